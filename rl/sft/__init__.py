"""`ale sft`: supervised fine-tuning on an `ale data build` dataset, on the trainer and engine
layer `ale train` uses, in two stages (stage 1 uniform over the filtered set, stage 2 adaptive
value revisiting; see `rl.sft.weights`), with checkpoints `ale train` starts from
(`model.init_from`)."""
