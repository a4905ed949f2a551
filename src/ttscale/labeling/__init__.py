"""Training labels for PRMs: step-forced rollouts, Monte-Carlo estimates, RPE and hard labels."""
