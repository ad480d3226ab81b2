"""The core's own pages: sign-in and account (``auth``), administration (``admin``)."""
