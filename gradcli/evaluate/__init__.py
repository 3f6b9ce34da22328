"""`gradcli eval`: its core (values and gradients at a point), its renderers and its click command."""
