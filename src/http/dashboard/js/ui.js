// The two message areas: #alert (role=alert) for errors, #notice (role=status) for what
// just happened.

const alertBox = () => document.getElementById('alert');
const noticeBox = () => document.getElementById('notice');
let noticeTimer = null;

/** Shows an error's message (the API's `error.message`). 401s are handled by the token form. */
export function showError(error) {
  if (error?.status === 401) return;
  const box = alertBox();
  box.textContent = error?.message ?? String(error);
  box.hidden = false;
}

export function clearError() {
  const box = alertBox();
  box.textContent = '';
  box.hidden = true;
}

export function notify(text) {
  const box = noticeBox();
  box.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    box.textContent = '';
  }, 8000);
}

/** Runs `work` with the button disabled; shows any error. Resolves to work's result or undefined. */
export async function withBusy(button, work) {
  const wasDisabled = button?.disabled;
  if (button) button.disabled = true;
  try {
    clearError();
    return await work();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    if (button) button.disabled = wasDisabled ?? false;
  }
}

/** Marks a list container busy while it loads, for assistive technology. */
export async function loading(container, work) {
  container.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    container.setAttribute('aria-busy', 'false');
  }
}
