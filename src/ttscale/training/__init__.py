"""Training: plain-PyTorch SFT for the miniature models."""
