"""mlnotes: the companion package of the ML Notes book.

One module per chapter:

- :mod:`mlnotes.calculus` — chapter 1, matrix calculus (numerical gradients, checks);
- :mod:`mlnotes.linear` — chapter 2, least squares and the normal equation;
- :mod:`mlnotes.nn` — chapters 3 and 4, a multilayer perceptron and backpropagation;
- :mod:`mlnotes.gmm` — chapter 5, Gaussian mixture models and EM;
- :mod:`mlnotes.datasets` — the small real data sets the book ships.
"""

__version__ = "0.1.0"
