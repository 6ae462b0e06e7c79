"""Gradio front end of UniHM. Only wiring and presentation: the numerics live in unihm_core."""
