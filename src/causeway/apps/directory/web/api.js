// Calls of the directory service from the pages: the CKAN Action API (/api/3/action/...), the
// directory's JSON API (/directory/api/...) and the node's reads for proofs (/directory/node/v1/...).
// Every failure is an ApiError with a type the pages translate; the server's own message is kept
// as text (shown as text, never as HTML).

const TOKEN_KEY = "directory.token";

export class ApiError extends Error {
  constructor(status, type, message, fields = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.fields = fields;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

async function call(path, { method = "GET", body, authenticated = false } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (authenticated && token()) headers.authorization = token();
  let answer;
  try {
    answer = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, "network", String(error.message || error));
  }
  const text = await answer.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(answer.status, "malformed", `HTTP ${answer.status}`);
  }
  return { answer, parsed };
}

const CKAN_TYPES = {
  "Validation Error": "invalid",
  "Not Found Error": "not_found",
  "Authorization Error": "forbidden",
  "Search Query Error": "bad_request",
  "Bad Request": "bad_request",
  "Service Unavailable": "unavailable",
};

// A CKAN action: GET with parameters, or POST with a JSON body (writes, with the token).
export async function ckan(action, parameters = {}, { write = false } = {}) {
  let path = `/api/3/action/${action}`;
  let options = { authenticated: write };
  if (write) options = { ...options, method: "POST", body: parameters };
  else {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(parameters)) query.append(key, typeof value === "string" ? value : JSON.stringify(value));
    path = `${path}?${query}`;
  }
  const { answer, parsed } = await call(path, options);
  if (!parsed || parsed.success !== true) {
    const error = (parsed && parsed.error) || {};
    const fields = {};
    for (const [key, value] of Object.entries(error)) if (key !== "__type" && key !== "message") fields[key] = value;
    throw new ApiError(answer.status, CKAN_TYPES[error.__type] || "unavailable", String(error.message || `HTTP ${answer.status}`), fields);
  }
  return parsed.result;
}

// The directory's JSON API.
export async function directory(path, { method = "GET", body } = {}) {
  const { answer, parsed } = await call(`/directory/api/${path}`, { method, body, authenticated: true });
  if (!answer.ok) {
    const error = (parsed && parsed.error) || {};
    throw new ApiError(answer.status, String(error.type || "unavailable"), String(error.message || `HTTP ${answer.status}`));
  }
  return parsed;
}

// One of the node's reads for a proof (its JSON as the node answers it).
export async function node(path) {
  const { answer, parsed } = await call(`/directory/node/v1/${path}`);
  if (!answer.ok) {
    const error = (parsed && parsed.error) || parsed || {};
    throw new ApiError(answer.status, String(error.type || "unavailable"), String(error.message || `HTTP ${answer.status}`));
  }
  return parsed;
}
