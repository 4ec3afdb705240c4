"""Word-swap perturbations of captions found with a masked language model."""
