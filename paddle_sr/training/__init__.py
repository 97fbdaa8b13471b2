"""Layer 7: training: recipes (every number cites its paper), the training set of a recipe, losses, the run folder and its checkpoints."""
