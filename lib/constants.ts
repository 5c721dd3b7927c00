/** The seeds' constants (seed 002 §1.1); every one is configurable where it is used. */
export const QDT = Object.freeze({
  /** α, energy growth rate. */
  alpha: 0.45,
  /** β, entropy-energy modulator. */
  beta: 0.25,
  /** γ, exploration-exploitation balance. */
  gamma: 0.35,
  /** Λ, the "cosmological constant" weighting the nonlocal energy (the seed's lambda_cosmo). */
  lambdaCosmo: 1.2,
});

/** Boltzmann constant k_B in J/K (exact, SI 2019). */
export const BOLTZMANN = 1.380649e-23;
