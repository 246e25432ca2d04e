"""The toy training task: `ale/ToyShell-v0` with a word-level tokenizer and a tiny LM on CPU.

`model` (`WordTokenizer`, `TinyLM`), `policy` (`ToyPolicy`: the word-level chat layout
`<bos> statement <act> action <eos> <obs> output <act> ...` over any engine), `task`
(`ToyTask`: expert-prefix start states; episodes run the agents' loop like every task).
"""
