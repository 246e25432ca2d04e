"""The chunk-level environment core: task protocols, action parsing, tools, the Gymnasium env."""
