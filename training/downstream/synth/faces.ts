// Draws one labelled synthetic face: a facesjs face config whose labelled features (glasses, facial hair, hair,
// headwear, mouth, eyebrow angle, ...) are chosen here from a seeded RNG, so every label is known by construction.
import { generate, type FaceConfig } from 'facesjs';
import { choice, uniform, withSeededRandom, type Rng } from './rng.ts';

/** RAF-DB's basic expression ids (1-based, as in list_patition_label.txt) and names. */
export const RAF_CLASSES = ['Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger', 'Neutral'] as const;
export type Expression = (typeof RAF_CLASSES)[number];

/**
 * The expressions facesjs can draw, from its mouth shapes (looked at one by one) and the eyebrow angle
 * (positive: inner ends down, a frown; negative: inner ends up), with smile lines for happiness. Fear and disgust
 * have no drawable cue.
 */
export const SYNTH_EXPRESSIONS: Record<string, { mouths: string[]; brow: [number, number]; smileLines: boolean }> = {
  Happiness: { mouths: ['smile', 'smile2', 'smile3', 'smile-closed'], brow: [-4, 4], smileLines: true },
  Sadness: { mouths: ['closed'], brow: [-22, -14], smileLines: false },
  Anger: { mouths: ['angry'], brow: [16, 25], smileLines: false },
  Surprise: { mouths: ['mouth'], brow: [-10, -6], smileLines: false },
  Neutral: { mouths: ['straight', 'mouth6'], brow: [-2, 2], smileLines: false },
};

/** CelebA attribute names used for the synthetic set: each one's meaning matches CelebA's where the name is CelebA's. */
export const SYNTH_ATTRIBUTES = [
  'Bald',
  'Black_Hair',
  'Blond_Hair',
  'Chubby',
  'Eyeglasses',
  'Goatee',
  'Male',
  'Mustache',
  'No_Beard',
  'Rosy_Cheeks',
  'Sideburns',
  'Smiling',
  'Wearing_Hat',
] as const;
export type SynthAttribute = (typeof SYNTH_ATTRIBUTES)[number];

const BLOND = ['#e9c67b', '#D7BF91'];
const DARK = ['#272421', '#0f0902', '#1c1008', '#2C1608', '#3D2314'];
const HATS = ['hat', 'hat2', 'hat3', 'santa-hat'];
const GLASSES = ['glasses1-primary', 'glasses1-secondary', 'glasses2-black', 'glasses2-primary', 'glasses2-secondary'];
const BEARDS = ['beard1', 'beard2', 'beard3', 'beard-point', 'fullgoatee', 'fullgoatee3', 'goatee1', 'goatee2', 'goatee5',
  'goatee1-stache', 'goatee4-stache', 'mustache1', 'mustache-thin', 'chin-strap', 'chin-strapStache', 'sideburns1',
  'sideburns2', 'mutton', 'muttonStache', 'soul-stache', 'honest-abe'];

export interface SynthFace {
  face: FaceConfig;
  gender: 'male' | 'female';
  expression: Expression;
  attributes: Record<SynthAttribute, boolean>;
}

export function drawFace(rng: Rng): SynthFace {
  const gender = rng() < 0.5 ? 'male' : 'female';
  const face = withSeededRandom(rng, () => generate(undefined, { gender }));
  const expression = choice(rng, Object.keys(SYNTH_EXPRESSIONS)) as Expression;
  const cue = SYNTH_EXPRESSIONS[expression]!;
  face.mouth = { id: choice(rng, cue.mouths), flip: rng() < 0.5 && expression !== 'Anger' };
  face.eyebrow.angle = Math.round(uniform(rng, cue.brow[0], cue.brow[1]));
  // Smiling raises the cheeks: the nasolabial lines show (facesjs draws them as smileLine).
  face.smileLine = cue.smileLines ? { id: choice(rng, ['line1', 'line2', 'line3', 'line4']), size: uniform(rng, 1.2, 2) } : { id: 'none', size: 1 };

  face.glasses.id = rng() < 0.3 ? choice(rng, GLASSES) : 'none';
  face.facialHair.id = gender === 'male' && rng() < 0.5 ? choice(rng, BEARDS) : 'none';
  const hat = rng() < 0.2;
  face.accessories.id = hat ? choice(rng, HATS) : rng() < 0.1 ? choice(rng, ['headband', 'headband-high']) : 'none';
  // facesjs hides or swaps long hair under hats; keep hats on short-haired or bald heads so the label stays true.
  const bald = gender === 'male' && rng() < 0.15;
  if (bald) {
    face.hair.id = 'bald'; // not an SVG in facesjs: nothing is drawn
    face.hairBg.id = 'none';
  }
  else if (hat) face.hair.id = gender === 'male' ? 'short' : 'short-fade';
  const blond = !bald && rng() < 0.3;
  face.hair.color = blond ? choice(rng, BLOND) : choice(rng, DARK);
  face.miscLine.id = rng() < 0.2 ? 'blush' : choice(rng, ['none', 'chin1', 'forehead1', 'freckles1']);
  face.fatness = Math.round(uniform(rng, 0, 1) * 100) / 100;

  const fh = face.facialHair.id;
  const attributes: Record<SynthAttribute, boolean> = {
    Bald: bald,
    Black_Hair: !bald && !blond,
    Blond_Hair: blond,
    Chubby: face.fatness > 0.7,
    Eyeglasses: face.glasses.id !== 'none',
    Goatee: /goatee|soul/i.test(fh),
    Male: gender === 'male',
    Mustache: /stache/i.test(fh),
    No_Beard: fh === 'none',
    Rosy_Cheeks: face.miscLine.id === 'blush',
    Sideburns: /sideburns|mutton|chin-strap|honest-abe/i.test(fh),
    Smiling: expression === 'Happiness',
    Wearing_Hat: hat,
  };
  return { face, gender, expression, attributes };
}
