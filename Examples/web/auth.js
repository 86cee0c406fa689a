// Signing in on the example pages: the bearer token is kept in this tab's sessionStorage (it survives a reload,
// not the tab), sent with fetch() as `Authorization`, and exchanged for a single-use ticket for each WebSocket or
// EventSource (Spec/BROWSER.md § 1): browsers cannot put `Authorization` on those.

/** The token saved under `key`, or the one typed into `form` (resolved once it is submitted). */
export function signIn(key, form) {
  const saved = sessionStorage.getItem(key);
  if (saved) return Promise.resolve(saved);
  form.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const token = new FormData(form).get('token').trim();
      if (!token) return;
      sessionStorage.setItem(key, token);
      form.hidden = true;
      resolve(token);
    });
  });
}

/** Forgets the token under `key` and reloads the page (the sign-in form shows again). */
export function signOut(key) {
  sessionStorage.removeItem(key);
  location.reload();
}

/** `fetch` with the bearer token; an answer that is not 2xx is thrown as an Error with the server's code. */
export async function api(token, path, { method = 'GET', body } = {}) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text.slice(0, 200) };  // a proxy's HTML error page, say
  }
  if (!response.ok) {
    const error = new Error(`${response.status} ${json.error ?? ''}: ${json.message ?? text}`);
    error.status = response.status;
    error.code = json.error;
    throw error;
  }
  return json;
}

/** A function returning a fresh ticket for each connection. */
export const ticketFetcher = (token) => async () => (await api(token, '/v1/tickets', { method: 'POST' })).ticket;
