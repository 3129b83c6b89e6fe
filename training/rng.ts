// Training's generator is the project's one seeded generator (src/random.ts): every random choice in training
// (weight init, batch order, views, drop-path) draws from a generator derived from (seed, purpose, step), so a run is
// reproducible and a resumed run continues exactly: no generator state has to survive the process except the step.
export { Rng, derive } from '../src/random.ts';
