//! Gaussian-process regression: Matern 5/2 kernel with one length scale per dimension, fitted
//! by maximizing the log marginal likelihood; one Cholesky factorization per fit.
