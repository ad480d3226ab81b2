"""Dependency resolution between addons: install order, dependents, auto-install glue."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.loader import AddonInfo


class DependencyError(Exception):
    """A dependency is missing, has the wrong version, or forms a cycle."""


def install_order(
    wanted: Iterable[str], available: Mapping[str, AddonInfo], installed: Iterable[str] = ()
) -> list[str]:
    """The addons to install for ``wanted``, dependencies first (already installed left out).

    Raises ``DependencyError`` naming the addons when one is missing, a version constraint
    is not met, or the dependencies form a cycle.
    """
    installed = set(installed)
    order: list[str] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = [*path[path.index(name) :], name]
            raise DependencyError("dependency cycle: " + " -> ".join(cycle))
        info = available.get(name)
        if info is None:
            by = f" (needed by '{path[-1]}')" if path else ""
            raise DependencyError(f"addon '{name}' is not available{by}")
        state[name] = "visiting"
        for dep in info.manifest.depends:
            dep_info = available.get(dep.name)
            if dep_info is not None and not dep.accepts(dep_info.manifest.version):
                raise DependencyError(
                    f"'{name}' needs {dep} but version {dep_info.manifest.version} is available"
                )
            visit(dep.name, [*path, name])
        state[name] = "done"
        if name not in installed:
            order.append(name)

    for name in wanted:
        visit(name, [])
    return order


def auto_installable(available: Mapping[str, AddonInfo], installed: Iterable[str]) -> list[str]:
    """Glue addons (``auto_install = true``) whose dependencies are now all installed."""
    installed = set(installed)
    ready = []
    changed = True
    while changed:
        changed = False
        for name, info in sorted(available.items()):
            m = info.manifest
            wanted = m.auto_install and name not in installed and name not in ready
            if (
                wanted
                and m.depends
                and all(d.name in installed or d.name in ready for d in m.depends)
            ):
                ready.append(name)
                changed = True
    return ready


def dependents(
    names: Iterable[str], available: Mapping[str, AddonInfo], installed: Iterable[str]
) -> list[str]:
    """Installed addons that depend, directly or not, on any of ``names`` (uninstall order)."""
    targets = set(names)
    installed = [n for n in installed if n in available]
    result: list[str] = []
    changed = True
    while changed:
        changed = False
        for name in installed:
            if name in targets or name in result:
                continue
            deps = set(available[name].manifest.depend_names)
            if deps & (targets | set(result)):
                result.append(name)
                changed = True
    return result


def uninstall_order(names: Iterable[str], available: Mapping[str, AddonInfo]) -> list[str]:
    """``names`` ordered so that dependents go before what they depend on.

    Addons whose code is gone (a removed package, safe mode) come first: nothing that is
    still here can need them, and they must still be switchable off.
    """
    names = list(dict.fromkeys(names))
    known = [n for n in names if n in available]
    scope = {n: available[n] for n in known}
    for n in known:
        scope |= {dep: available[dep] for dep in all_dependencies(n, available)}
    forward = install_order(known, scope)
    return [n for n in names if n not in available] + [n for n in reversed(forward) if n in known]


def all_dependencies(name: str, available: Mapping[str, AddonInfo]) -> set[str]:
    """Every addon ``name`` depends on, directly or not (those available)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        info = available.get(stack.pop())
        if info is None:
            continue
        for dep in info.manifest.depend_names:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen
