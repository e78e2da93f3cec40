"""The review panel for the open document (tags, status, notes, links, history) and review actions."""
