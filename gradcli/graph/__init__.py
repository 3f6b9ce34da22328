"""`gradcli graph`: one walk over a program (view), its renderers (render) and its click command."""
