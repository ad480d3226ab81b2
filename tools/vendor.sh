#!/usr/bin/env bash
# Re-create core/static/vendor/ from pinned npm versions.
#
# Vitrylo runs on closed networks, so every front-end library is vendored as
# plain files. Sources are the npm registry only (`npm pack`, which checks each
# tarball against the registry's integrity hash); no CDN, no other download.
#
# Upgrade a library: change its version below, run this script, review
# `git diff core/static/vendor`, commit. VENDORED.md is regenerated too.
#
# Usage:
#   tools/vendor.sh           rebuild core/static/vendor/ (replaces the folder)
#   tools/vendor.sh --check   build in a temp dir and diff -r against the
#                             committed folder; exit 1 if they differ
set -euo pipefail

# ---- pinned versions (one line per library) --------------------------------
BOOTSTRAP=5.3.9
BOOTSTRAP_ICONS=1.13.2
HTMX=2.0.11            # stay on htmx 2.x (4.x has a different API)
SORTABLEJS=1.15.7
CHARTJS=4.6.1
FULLCALENDAR=6.1.21    # 6.x: one self-contained global bundle; the Ukrainian
                       # locale comes from @fullcalendar/core at the SAME version
FRAPPE_GANTT=1.2.2
# -----------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/core/static/vendor"
MODE=build
case "${1:-}" in
    "") ;;
    --check) MODE=check ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

command -v npm >/dev/null || { echo "npm is required" >&2; exit 1; }
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vitrylo-vendor.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/vendor"
mkdir -p "$OUT" "$WORK/tgz" "$WORK/pkg"

ROWS=()   # table rows for VENDORED.md

# fetch SPEC -> prints the folder holding the extracted package
fetch() {
    local spec="$1" name="${1%@*}" version="${1##*@}" tgz dir got
    tgz="$(cd "$WORK/tgz" && npm pack --silent "$spec" | tail -n 1)"
    dir="$WORK/pkg/${tgz%.tgz}"
    mkdir -p "$dir"
    tar -xzf "$WORK/tgz/$tgz" -C "$dir"
    got="$(node -p 'require(process.argv[1]).name + "@" + require(process.argv[1]).version' "$dir/package/package.json")"
    [[ "$got" == "$name@$version" ]] || { echo "npm gave $got, expected $spec" >&2; exit 1; }
    echo "$dir/package"
}

licence_of() { node -p 'require(process.argv[1]).license' "$1/package.json"; }

# put SRC_DIR TARGET_SUBDIR FILE... : copy files (paths relative to SRC_DIR);
# "src:dst" copies under a new name. Source-map comments are removed: maps are not vendored.
put() {
    local src="$1" target="$OUT/$2" f from to
    shift 2
    for f in "$@"; do
        from="${f%%:*}"; to="${f#*:}"
        mkdir -p "$(dirname "$target/$to")"
        cp "$src/$from" "$target/$to"
        case "$to" in
            *.js|*.css)
                sed -i -e '/^\/\/[#@] sourceMappingURL=/d' \
                       -e '/^\/\*[#@] sourceMappingURL=.*\*\/$/d' "$target/$to" ;;
        esac
    done
}

# row NAME VERSION LICENCE NPM_PACKAGES PURPOSE
row() {
    local files
    files="$(cd "$OUT/$1" && find . -type f ! -name LICENSE | sed 's#^\./##' | LC_ALL=C sort \
             | sed "s#^#\`$1/#; s#\$#\`#" | paste -sd ',' - | sed 's/,/, /g')"
    ROWS+=("| $1 | $2 | $3 | $4 | $files | $5 |")
    printf '  %-16s %-8s %s\n' "$1" "$2" "$3" >&2
}

echo "Vendoring into ${DEST#"$ROOT"/}:" >&2

p="$(fetch "bootstrap@$BOOTSTRAP")"
put "$p" bootstrap dist/css/bootstrap.min.css:bootstrap.min.css \
    dist/js/bootstrap.bundle.min.js:bootstrap.bundle.min.js LICENSE:LICENSE
row bootstrap "$BOOTSTRAP" "$(licence_of "$p")" "\`bootstrap\`" "Layout, components and utilities (CSS + bundled JS incl. Popper)"

p="$(fetch "bootstrap-icons@$BOOTSTRAP_ICONS")"
put "$p" bootstrap-icons font/bootstrap-icons.min.css:bootstrap-icons.min.css \
    font/fonts/bootstrap-icons.woff2:fonts/bootstrap-icons.woff2 \
    font/fonts/bootstrap-icons.woff:fonts/bootstrap-icons.woff LICENSE:LICENSE
row bootstrap-icons "$BOOTSTRAP_ICONS" "$(licence_of "$p")" "\`bootstrap-icons\`" "Icon font used by the layout"

p="$(fetch "htmx.org@$HTMX")"
put "$p" htmx dist/htmx.min.js:htmx.min.js LICENSE:LICENSE
row htmx "$HTMX" "$(licence_of "$p")" "\`htmx.org\`" "Partial page updates (hx-get/hx-post swaps)"

p="$(fetch "sortablejs@$SORTABLEJS")"
put "$p" sortablejs Sortable.min.js:Sortable.min.js LICENSE:LICENSE
row sortablejs "$SORTABLEJS" "$(licence_of "$p")" "\`sortablejs\`" "Kanban drag and drop"

p="$(fetch "chart.js@$CHARTJS")"
put "$p" chartjs dist/chart.umd.js:chart.umd.js LICENSE.md:LICENSE
row chartjs "$CHARTJS" "$(licence_of "$p")" "\`chart.js\`" "Charts (UMD build, global \`Chart\`)"

p="$(fetch "fullcalendar@$FULLCALENDAR")"
put "$p" fullcalendar index.global.min.js:index.global.min.js LICENSE.md:LICENSE
lic="$(licence_of "$p")"
p="$(fetch "@fullcalendar/core@$FULLCALENDAR")"
put "$p" fullcalendar locales/uk.global.min.js:locales/uk.global.min.js
[[ "$(licence_of "$p")" == "$lic" ]] || { echo "@fullcalendar/core licence differs from fullcalendar's" >&2; exit 1; }
row fullcalendar "$FULLCALENDAR" "$lic" "\`fullcalendar\` + \`@fullcalendar/core\` (locale)" "Planner calendar (global \`FullCalendar\`, Ukrainian locale)"

p="$(fetch "frappe-gantt@$FRAPPE_GANTT")"
put "$p" frappe-gantt dist/frappe-gantt.umd.js:frappe-gantt.umd.js \
    dist/frappe-gantt.css:frappe-gantt.css license.txt:LICENSE
row frappe-gantt "$FRAPPE_GANTT" "$(licence_of "$p")" "\`frappe-gantt\`" "Project Gantt chart (global \`Gantt\`)"

# Every vendored folder must carry its licence, and no file may point at a map.
for d in "$OUT"/*/; do
    [[ -s "$d/LICENSE" ]] || { echo "missing LICENSE in $d" >&2; exit 1; }
done
if grep -rl 'sourceMappingURL' "$OUT" >&2; then
    echo "source-map reference left in the files above" >&2; exit 1
fi

{
    cat <<'EOF'
# Vendored front-end libraries

Generated by `tools/vendor.sh` — do not edit by hand: change the pinned version
at the top of the script and run it again (`tools/vendor.sh --check` verifies
that this folder matches the pins).

All files come unmodified from the npm registry tarballs (`npm pack`), except
that `sourceMappingURL` comments are removed because source maps are not
vendored. Each folder holds the package's licence as `LICENSE`.
Paths are relative to `core/static/vendor/`.

| Name | Version | Licence (SPDX) | npm package | Files | Purpose in Vitrylo |
| --- | --- | --- | --- | --- | --- |
EOF
    printf '%s\n' "${ROWS[@]}"
    cat <<'EOF'

## Use in templates

`core/static/` is the Flask app's static folder, so these are served under
`/static/vendor/...`; in Jinja write `{{ url_for('static', filename='vendor/...') }}`.

```html
<link rel="stylesheet" href="{{ url_for('static', filename='vendor/bootstrap/bootstrap.min.css') }}">
<link rel="stylesheet" href="{{ url_for('static', filename='vendor/bootstrap-icons/bootstrap-icons.min.css') }}">
<script src="{{ url_for('static', filename='vendor/bootstrap/bootstrap.bundle.min.js') }}" defer></script>
<script src="{{ url_for('static', filename='vendor/htmx/htmx.min.js') }}" defer></script>

<!-- only on the pages that need them -->
<script src="{{ url_for('static', filename='vendor/sortablejs/Sortable.min.js') }}"></script>     <!-- window.Sortable -->
<script src="{{ url_for('static', filename='vendor/chartjs/chart.umd.js') }}"></script>           <!-- window.Chart -->
<script src="{{ url_for('static', filename='vendor/fullcalendar/index.global.min.js') }}"></script>  <!-- window.FullCalendar -->
<script src="{{ url_for('static', filename='vendor/fullcalendar/locales/uk.global.min.js') }}"></script> <!-- after the bundle -->
<link rel="stylesheet" href="{{ url_for('static', filename='vendor/frappe-gantt/frappe-gantt.css') }}">
<script src="{{ url_for('static', filename='vendor/frappe-gantt/frappe-gantt.umd.js') }}"></script> <!-- window.Gantt -->
```

`bootstrap-icons.min.css` loads its fonts from `fonts/` beside it: keep the two together.
FullCalendar 6 injects its own CSS from the JS bundle (no stylesheet to link);
use `new FullCalendar.Calendar(el, {locale: 'uk', ...})`.
EOF
} > "$OUT/VENDORED.md"

if [[ "$MODE" == check ]]; then
    if diff -r "$OUT" "$DEST"; then
        echo "OK: ${DEST#"$ROOT"/} matches the pinned versions" >&2
    else
        echo "DIFFERENT: run tools/vendor.sh to rebuild" >&2; exit 1
    fi
else
    rm -rf "$DEST"
    mkdir -p "$(dirname "$DEST")"
    cp -R "$OUT" "$DEST"
    echo "Done: $(du -sh "$DEST" | cut -f1) in ${DEST#"$ROOT"/}" >&2
fi
