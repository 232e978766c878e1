"""Sampling loops (DDIM/DDPM), CPSample protection and the rejection baseline."""
