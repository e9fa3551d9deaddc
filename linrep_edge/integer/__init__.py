"""Integer (int8) inference: the arithmetic of docs/INTEGER.md, in numpy, as the reference the C runtime
equals bit for bit."""
