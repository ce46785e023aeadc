"""The chat in a browser: rendering, the service behind the chat, the Gradio layout, serving; CSS and JS as files."""
