// The admin API from the browser: the session cookie travels by itself (HttpOnly, so
// script never sees it); every state change carries the session's CSRF token.
export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

let csrfToken = '';
export function setCsrf(token: string): void {
  csrfToken = token;
}

export function signInUrl(): string {
  return '/signin?next=' + encodeURIComponent(location.pathname + location.search);
}

async function send<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = csrfToken;
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data: any = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: text };
  }
  if (response.status === 401 && !url.startsWith('/console/session')) {
    location.assign(signInUrl());
  }
  if (!response.ok) throw new ApiError(response.status, data.error ?? response.statusText);
  return data as T;
}

export function get<T>(path: string, params?: Record<string, string | number | undefined>): Promise<T> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== '') query.set(k, String(v));
  }
  const q = query.toString();
  return send<T>('GET', '/api/v1' + path + (q ? '?' + q : ''));
}

export function post<T>(path: string, body?: unknown): Promise<T> {
  return send<T>('POST', '/api/v1' + path, body);
}

export function put<T>(path: string, body?: unknown): Promise<T> {
  return send<T>('PUT', '/api/v1' + path, body);
}

export interface Me {
  actor: string;
  csrf: string;
}

export function session(): Promise<Me> {
  return send<Me>('GET', '/console/session');
}

export function signIn(token: string): Promise<Me> {
  return send<Me>('POST', '/console/session', { token });
}

export function signOut(): Promise<unknown> {
  return send('DELETE', '/console/session');
}

export const enc = encodeURIComponent;
