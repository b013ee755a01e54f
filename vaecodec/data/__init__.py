"""Data sets for training and evaluation (numpy; IDX files in torchvision's layout)."""
