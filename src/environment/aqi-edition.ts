/**
 * Which edition of HJ 633 indexes an observation: one edition for the whole city, or `by-date`,
 * the edition in force on the observation's date (DOMAIN.md §1.0: HJ 633-2026 replaced
 * HJ 633-2012 on 2026-03-01; historical data and replays of older years keep the 2012 rules).
 * Pure: no I/O.
 */
import { AQI_STANDARDS, type AqiStandard } from './aqi.js';

/** What a city configures (`--aqi-standard`): an edition, or the one in force on each observation's date. */
export const AQI_STANDARD_CHOICES = [...AQI_STANDARDS, 'by-date'] as const;
export type AqiStandardChoice = (typeof AQI_STANDARD_CHOICES)[number];

/**
 * HJ 633-2026 is in force from 2026-03-01 (its cover page): a date of the Chinese calendar, so the
 * instant is midnight in Beijing time (UTC+8), 2026-02-28T16:00Z.
 */
export const HJ633_2026_IN_FORCE_MS = Date.parse('2026-03-01T00:00:00+08:00');

/** The edition that indexes an observation made at `atMs` (epoch ms). */
export function standardFor(choice: AqiStandardChoice, atMs: number): AqiStandard {
  if (choice !== 'by-date') return choice;
  return atMs < HJ633_2026_IN_FORCE_MS ? 'HJ 633-2012' : 'HJ 633-2026';
}
