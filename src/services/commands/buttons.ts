import type { TwilioParams } from '../../domain/message.js';
import { pressedButton } from '../../twilio/inbound-params.js';

/**
 * The texts a pressed quick-reply button may stand for, best first: its payload (the id
 * the Content template gives the button; Taskwire's templates set it to the command, e.g.
 * `pause today`, `tasks`), then its label (`Pause today`). Empty when no button was
 * pressed. The first that is a command is read as what the person typed.
 */
export function buttonCommandCandidates(raw: TwilioParams): string[] {
  const button = pressedButton(raw);
  if (!button) return [];
  return [button.payload, button.text].filter((text): text is string => text !== null);
}
