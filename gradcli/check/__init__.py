"""`gradcli check`: reverse vs forward vs finite differences vs claims (core), renderers, command."""
