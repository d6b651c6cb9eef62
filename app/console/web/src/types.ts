// The API's JSON shapes (app/admin/api.cpp's header comment).
export interface Device {
  id: number;
  name: string;
  display_name: string;
  owner: string;
  groups: string[];
  enabled: boolean;
  created_at: string;
}

export interface Certificate {
  serial: string;
  device: string;
  profile: string;
  subject: string;
  status: string;
  not_before: string;
  not_after: string;
  revoked_at?: string;
  revocation_reason?: string;
}

export interface Session {
  id?: number | string;
  nas: string;
  acct_session_id: string;
  calling_station_id: string;
  user_name: string;
  serial: string;
  device: string;
  ssid?: string;
  started_at: string;
  stopped_at: string | null;
  dynauth: string;
  dynauth_at: string | null;
}

export interface Event {
  id: number;
  time: string;
  kind: string;
  outcome: string;
  reason: string;
  detail: string;
  nas: string;
  mac: string;
  user_name: string;
  ssid: string;
  serial: string;
  device: string;
  issuer: string;
  rule: string;
  text?: string;
}

export interface Rule {
  name: string;
  line: number;
  summary: string;
  matches: number;
}

export interface HeldRequest {
  id: number;
  status: string;
  device: string;
  profile: string;
  subject: string;
  transaction_id: string;
  created_at: string;
  decided_by: string | null;
  reason: string;
}
