"""Streamlit-side helpers: session state, cached engine calls, safe text."""
