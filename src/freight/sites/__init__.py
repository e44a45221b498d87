"""Site profiles: what a cluster needs from every job (target, partition, modules, engine,
scratch), as data files shipped in sites/builtin/ or kept in the user's config folder."""
