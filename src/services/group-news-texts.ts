/** What members are told of each other's proofs, and the weekly digest. */

const quoted = (description: string | null) => `“${description ?? 'a task'}”`;

export interface WeekSummary {
  groupName: string;
  firstDay: string;
  lastDay: string;
  points: number;
  currentStreak: number;
  bestStreak: number;
  top: readonly { rank: number; username: string; points: number }[];
  streaks: readonly { username: string; current: number }[];
}

export const groupNewsTexts = {
  /** An instant share: "📸 Ada finished “Run 5k” (streak 4)". */
  proof: (author: string, description: string, streak: number | null) =>
    `📸 ${author} finished ${quoted(description)}${streak && streak > 0 ? ` (streak ${streak})` : ''}`,

  /** One line of a daily digest. */
  digestLine: (author: string, description: string | null) =>
    `${author} finished ${quoted(description)}`,

  dailyDigest: (groupName: string, lines: readonly string[]) =>
    `📸 Today in ${groupName}:\n${lines.map((line) => `• ${line}`).join('\n')}`,

  /** The same on one line, for a template variable (WhatsApp refuses newlines in them). */
  dailyDigestLine: (lines: readonly string[]) => lines.join('; '),

  topThree: (top: WeekSummary['top']) =>
    top.length === 0
      ? 'nobody scored yet'
      : top.map((entry) => `${entry.rank}. ${entry.username} ${entry.points}`).join(', '),

  keptStreaks: (streaks: WeekSummary['streaks']) =>
    streaks.length === 0
      ? 'nobody'
      : streaks.map((entry) => `${entry.username} (${entry.current})`).join(', '),

  yourWeek: (summary: WeekSummary) =>
    `you earned ${summary.points} point${summary.points === 1 ? '' : 's'}` +
    (summary.currentStreak > 0 || summary.bestStreak > 0
      ? `, streak ${summary.currentStreak} (best ${summary.bestStreak})`
      : ''),

  weeklyDigest: (summary: WeekSummary) =>
    `📊 Your week in ${summary.groupName} (${summary.firstDay} – ${summary.lastDay}): ` +
    `${groupNewsTexts.yourWeek(summary)}.\n` +
    `🏆 Top three: ${groupNewsTexts.topThree(summary.top)}.\n` +
    `🔥 Kept a streak: ${groupNewsTexts.keptStreaks(summary.streaks)}.`,

  weeklyDigestLine: (summary: WeekSummary) =>
    `${groupNewsTexts.yourWeek(summary)}; top three: ${groupNewsTexts.topThree(summary.top)}; ` +
    `kept a streak: ${groupNewsTexts.keptStreaks(summary.streaks)}`,
};
