import { mulberry32 } from '../../util/random.js';

/**
 * Synthetic ad impressions, as an ad server would log them. Seeded and deterministic: record i
 * of a seed is always the same, whoever generates it (the generator source, `runner produce`,
 * tests computing a reference).
 */
export interface Impression {
  timestamp: number;
  publisher: string;
  advertiser: string;
  website: string;
  geo: string;
  bid: number;
  cookie: string;
}

export interface ImpressionOptions {
  seed: number;
  startTime: number;
  eventsPerSecond: number;
  publishers: number;
  /** How many of GEOS records draw from (the first ones). */
  geos: number;
  /** A few publishers and websites get most traffic (the product of two draws), or all alike. */
  skewed: boolean;
  advertisers: number;
  websites: number;
  cookies: number;
  unknownGeoRatio: number;
  jitterMs: number;
}

export const GEOS = ['US', 'CA', 'GB', 'DE', 'FR', 'IN', 'BR', 'JP', 'AU', 'ES', 'IT', 'MX'];

export class ImpressionGenerator {
  private readonly random: () => number;
  /** A draw in [0, 1) for publishers and websites: skewed towards 0, or uniform. */
  private readonly draw: () => number;
  private readonly publishers: string[];
  private readonly advertisers: string[];
  private readonly websites: string[];
  private index = 0;

  constructor(private readonly options: ImpressionOptions) {
    const random = mulberry32(options.seed);
    this.random = random;
    this.draw = options.skewed ? () => random() * random() : random;
    this.publishers = names('publisher_', options.publishers);
    this.advertisers = names('advertiser_', options.advertisers);
    this.websites = names('website_', options.websites).map((w) => `${w}.com`);
  }

  /** The sequence number of the next record. */
  get position(): number {
    return this.index;
  }

  next(): Impression {
    const o = this.options;
    const r = this.random;
    const i = this.index++;
    const jitter = o.jitterMs > 0 ? Math.floor(r() * o.jitterMs) : 0;
    // Skewed choice: a few publishers and websites get most traffic, as in real ad networks.
    const publisher = this.publishers[Math.floor(this.draw() * this.publishers.length)];
    const geo = r() < o.unknownGeoRatio ? 'unknown' : GEOS[Math.floor(r() * o.geos)];
    return {
      timestamp: o.startTime + Math.floor((i * 1000) / o.eventsPerSecond) - jitter,
      publisher,
      advertiser: this.advertisers[Math.floor(r() * this.advertisers.length)],
      website: this.websites[Math.floor(this.draw() * this.websites.length)],
      geo,
      bid: Math.floor(r() * 1e6) / 1e6, // [0, 1) with micro-unit precision
      cookie: `cookie_${Math.floor(r() * o.cookies)}`,
    };
  }
}

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
}

/** A click on an impression: the impression's publisher, advertiser, website, geo and cookie, a few seconds after it. */
export interface Click {
  timestamp: number;
  /** The clicked impression's timestamp: with its cookie, which impression was clicked. */
  impressionAt: number;
  publisher: string;
  advertiser: string;
  website: string;
  geo: string;
  cookie: string;
}

/** Shortest and longest time from an impression to its click. */
export const CLICK_DELAY_MS = { min: 1000, max: 10_000 };

/**
 * Picks the clicked impressions of a sequence, deterministically: about `ratio` of them, each
 * clicked once, 1 to 10 s after it was shown. It draws from a random sequence of its own (from the
 * same seed), so the impressions are exactly those the impression stream of that seed holds.
 */
export class ClickPicker {
  private readonly random: () => number;
  private clicks = 0;

  constructor(
    seed: number,
    private readonly ratio: number,
  ) {
    this.random = mulberry32(seed ^ 0x5bd1e995);
  }

  /** The sequence number of the next click. */
  get position(): number {
    return this.clicks;
  }

  /** The click on this impression, or undefined when it was not clicked; call it once per impression, in order. */
  clickOn(impression: Impression): Click | undefined {
    const clicked = this.random() < this.ratio;
    const delay = CLICK_DELAY_MS.min + Math.floor(this.random() * (CLICK_DELAY_MS.max - CLICK_DELAY_MS.min));
    if (!clicked) return undefined;
    this.clicks++;
    const { timestamp, publisher, advertiser, website, geo, cookie } = impression;
    return { timestamp: timestamp + delay, impressionAt: timestamp, publisher, advertiser, website, geo, cookie };
  }
}
