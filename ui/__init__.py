"""The command line and the Gradio app: thin layers composing agent and indexing."""
