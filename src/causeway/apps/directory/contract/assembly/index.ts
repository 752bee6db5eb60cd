// The government data directory's contract (docs/directory.md, issue 11): the classification
// scheme and the departments (kept by the administrators), the catalogue (every revision of
// every resource kept), and the sharing workflow (a state machine per request) with its usage
// receipts. A city directory also keeps the district directories it rolls up and their
// resources, each proven by the city chain's light client of the district's chain (the last
// section).
//
// Arguments, results, state values and event data are the messages of
// proto/causeway/apps/directory/v1/directory.proto, field for field: this file reads them with
// the SDK's Reader and writes them with its Writer (fields in increasing number, defaults left
// out: protobuf's canonical form), and Python decodes them with directory_pb2. Every input is
// parsed into the classes below, checked, and written back from them, so a field the proto does
// not define (or a field this contract fills itself, such as a resource's provider) never
// reaches the state from a caller.
//
// The interface file (interface.json) describes what causeway.types.interface can: a nested
// message argument as `bytes` (the same bytes on the wire), and no returns or event fields where
// the message has repeated members. Callers send each method's message as its raw arguments and
// decode results and events with directory_pb2 (causeway.apps.directory.contract maps them).
//
// A method that refuses its input reverts: the host undoes every write of the call, so a refusal
// changes nothing whatever it had done before.
import {
  blockHeight, blockTimeMs, call, caller, emit, hash, organisation, readArguments, Reader, revert,
  setResult, state, transactionId, Writer,
} from "./causeway";

export { causeway_abi_v1 } from "./causeway";

// -- bounds --------------------------------------------------------------------------------------
// A state key is at most 256 bytes and a state value at most 65,536: every bound below keeps a
// key or a record inside them, or keeps a call's work (and its gas) proportionate.

const DIRECTORY_ID_BYTES_MAX = 64;          // the proto's rule; directory ids go into URLs
const ADMINISTRATORS_MAX = 16;              // the proto's rule
// Organisation ids go into "organisation/<id>" keys; the chain's own ids are far shorter.
const ORGANISATION_BYTES_MAX = 128;
const ANSWER_DAYS_DEFAULT: u32 = 15;        // the national guide's answer time
const ANSWER_DAYS_MAX: u32 = 90;
const DAY_MS: i64 = 86_400_000;
const NAME_BYTES_MAX = 200;                 // names of categories, departments, resources
const TEXT_BYTES_MAX = 4000;                // abstracts, conditions, purposes, reasons, terms
const SHORT_TEXT_BYTES_MAX = 200;           // data item names, keywords, duties, formats
const DESCRIPTION_BYTES_MAX = 500;          // a data item's description: 200 of them fit a record
const URL_BYTES_MAX = 2048;
// A resource code is at most 6 + 1 + 32 + 1 + 6 = 46 bytes, a request id 11: anything longer
// names nothing (and would not fit a state key with its prefix).
const CODE_BYTES_MAX = 64;
const DEPARTMENT_CODE_BYTES_MIN = 2;
const DEPARTMENT_CODE_BYTES_MAX = 32;
const DEPARTMENT_DUTIES_MAX = 50;
const CATEGORY_LEVEL_MAX: u32 = 3;          // category, item, sub-item
const DATA_ITEMS_MAX = 200;                 // the proto's rule
const DISTRIBUTIONS_MAX = 20;               // the proto's rule
const RELATED_RESOURCES_MAX = 20;           // the proto's rule
const DUTIES_MAX = 20;                      // the proto's rule
const KEYWORDS_MAX = 20;                    // the proto's rule
const HASH_BYTES = 32;                      // SM3 and SHA-256 alike
const SEQUENCE_MAX: u64 = 999_999;          // six digits in a resource code
const REQUESTS_MAX: u64 = 9_999_999_999;    // ten digits in a request id
const VERSION_DIGITS = 10;
const STATE_VALUE_BYTES_MAX = 65_536;       // the host's limit, checked here for a clear message
const PAGE_DEFAULT = 20;
const PAGE_MAX = 100;
// How many entries one state.range reads while collecting a resource's whole history.
const HISTORY_PAGE = 100;

const DATA_ITEM_TYPES: Array<string> = [
  "string", "integer", "decimal", "date", "datetime", "boolean", "binary",
];

// Enum values (directory.proto).
const SHARING_UNCONDITIONAL: u32 = 1;
const SHARING_CONDITIONAL: u32 = 2;
const SHARING_NOT_SHARED: u32 = 3;
const OPENNESS_MAX: u32 = 3;
const UPDATE_CYCLE_MAX: u32 = 7;
const LEVEL_MAX: u32 = 2;
const STATUS_ACTIVE: u32 = 1;
const STATUS_WITHDRAWN: u32 = 2;
const PENDING: u32 = 1;
const APPROVED: u32 = 2;
const CONDITIONALLY_APPROVED: u32 = 3;
const REFUSED: u32 = 4;
const ESCALATED: u32 = 5;
const REVOKED: u32 = 6;
const CANCELLED: u32 = 7;

// State keys.
const DIRECTORY_KEY = "directory";
const CATEGORY_PREFIX = "category/";
const DEPARTMENT_PREFIX = "department/";
const ORGANISATION_PREFIX = "organisation/";
const SEQUENCE_PREFIX = "sequence/";
const RESOURCE_PREFIX = "resource/";
const HEAD_PREFIX = "head/";
const REQUEST_PREFIX = "request/";
const RECEIPT_PREFIX = "receipt/";

// -- the records -----------------------------------------------------------------------------

class Settings {
  directoryId: string = "";
  level: u32 = 0;
  name: string = "";
  administrators: Array<string> = [];
  parentDirectoryId: string = "";
  answerDays: u32 = 0;

  static read(r: Reader): Settings {
    const s = new Settings();
    s.directoryId = r.string(1);
    s.level = r.uint32(2);
    s.name = r.string(3);
    s.administrators = r.repeatedString(4);
    s.parentDirectoryId = r.string(5);
    s.answerDays = r.uint32(6);
    return s;
  }

  write(): Writer {
    return new Writer().string(1, this.directoryId).uint32(2, this.level).string(3, this.name)
      .repeatedString(4, this.administrators).string(5, this.parentDirectoryId)
      .uint32(6, this.answerDays);
  }
}

class Info {
  settings: Settings = new Settings();
  resources: u64 = 0;
  requests: u64 = 0;

  static read(r: Reader): Info {
    const i = new Info();
    i.settings = Settings.read(r.message(1, "directory settings"));
    i.resources = r.uint64(2);
    i.requests = r.uint64(3);
    return i;
  }

  write(): Writer {
    return new Writer().message(1, this.settings.write()).uint64(2, this.resources)
      .uint64(3, this.requests);
  }
}

class Category {
  code: string = "";
  name: string = "";
  nameEn: string = "";
  level: u32 = 0;
  parentCode: string = "";

  static read(r: Reader): Category {
    const c = new Category();
    c.code = r.string(1);
    c.name = r.string(2);
    c.nameEn = r.string(3);
    c.level = r.uint32(4);
    c.parentCode = r.string(5);
    return c;
  }

  write(): Writer {
    return new Writer().string(1, this.code).string(2, this.name).string(3, this.nameEn)
      .uint32(4, this.level).string(5, this.parentCode);
  }
}

class Department {
  code: string = "";
  organisation: string = "";
  name: string = "";
  nameEn: string = "";
  district: string = "";
  duties: Array<string> = [];

  static read(r: Reader): Department {
    const d = new Department();
    d.code = r.string(1);
    d.organisation = r.string(2);
    d.name = r.string(3);
    d.nameEn = r.string(4);
    d.district = r.string(5);
    d.duties = r.repeatedString(6);
    return d;
  }

  write(): Writer {
    return new Writer().string(1, this.code).string(2, this.organisation).string(3, this.name)
      .string(4, this.nameEn).string(5, this.district).repeatedString(6, this.duties);
  }
}

class DataItem {
  name: string = "";
  type: string = "";
  description: string = "";
  length: u32 = 0;

  static read(r: Reader): DataItem {
    const d = new DataItem();
    d.name = r.string(1);
    d.type = r.string(2);
    d.description = r.string(3);
    d.length = r.uint32(4);
    return d;
  }

  write(): Writer {
    return new Writer().string(1, this.name).string(2, this.type).string(3, this.description)
      .uint32(4, this.length);
  }
}

class Distribution {
  name: string = "";
  format: string = "";
  accessUrl: string = "";
  hash: Uint8Array = new Uint8Array(0);
  hashAlgorithm: string = "";
  byteSize: u64 = 0;

  static read(r: Reader): Distribution {
    const d = new Distribution();
    d.name = r.string(1);
    d.format = r.string(2);
    d.accessUrl = r.string(3);
    d.hash = r.bytes(4).slice();
    d.hashAlgorithm = r.string(5);
    d.byteSize = r.uint64(6);
    return d;
  }

  write(): Writer {
    return new Writer().string(1, this.name).string(2, this.format).string(3, this.accessUrl)
      .bytes(4, this.hash).string(5, this.hashAlgorithm).uint64(6, this.byteSize);
  }
}

class Metadata {
  categoryCode: string = "";
  name: string = "";
  summary: string = "";                     // `abstract` (field 3): a reserved word here
  format: string = "";
  dataItems: Array<DataItem> = [];
  sharingType: u32 = 0;
  sharingConditions: string = "";
  sharingMethod: string = "";
  openness: u32 = 0;
  opennessConditions: string = "";
  updateCycle: u32 = 0;
  publishDate: string = "";
  relatedResources: Array<string> = [];
  duties: Array<string> = [];
  distributions: Array<Distribution> = [];
  keywords: Array<string> = [];
  nameEn: string = "";
  abstractEn: string = "";

  static read(r: Reader): Metadata {
    const m = new Metadata();
    m.categoryCode = r.string(1);
    m.name = r.string(2);
    m.summary = r.string(3);
    m.format = r.string(4);
    // Counted before they are parsed: an oversized list is refused before it costs its parse.
    if (r.count(5) > DATA_ITEMS_MAX) {
      revert(`metadata: ${r.count(5)} data items, above the limit of ${DATA_ITEMS_MAX}`);
    }
    const items = r.repeatedMessage(5, "a data item");
    for (let index = 0; index < items.length; index++) m.dataItems.push(DataItem.read(items[index]));
    m.sharingType = r.uint32(6);
    m.sharingConditions = r.string(7);
    m.sharingMethod = r.string(8);
    m.openness = r.uint32(9);
    m.opennessConditions = r.string(10);
    m.updateCycle = r.uint32(11);
    m.publishDate = r.string(12);
    m.relatedResources = r.repeatedString(13);
    m.duties = r.repeatedString(14);
    if (r.count(15) > DISTRIBUTIONS_MAX) {
      revert(`metadata: ${r.count(15)} distributions, above the limit of ${DISTRIBUTIONS_MAX}`);
    }
    const distributions = r.repeatedMessage(15, "a distribution");
    for (let index = 0; index < distributions.length; index++) {
      m.distributions.push(Distribution.read(distributions[index]));
    }
    m.keywords = r.repeatedString(16);
    m.nameEn = r.string(17);
    m.abstractEn = r.string(18);
    return m;
  }

  write(): Writer {
    const items = new Array<Writer>();
    for (let index = 0; index < this.dataItems.length; index++) items.push(this.dataItems[index].write());
    const distributions = new Array<Writer>();
    for (let index = 0; index < this.distributions.length; index++) {
      distributions.push(this.distributions[index].write());
    }
    return new Writer().string(1, this.categoryCode).string(2, this.name).string(3, this.summary)
      .string(4, this.format).repeatedMessage(5, items).uint32(6, this.sharingType)
      .string(7, this.sharingConditions).string(8, this.sharingMethod).uint32(9, this.openness)
      .string(10, this.opennessConditions).uint32(11, this.updateCycle)
      .string(12, this.publishDate).repeatedString(13, this.relatedResources)
      .repeatedString(14, this.duties).repeatedMessage(15, distributions)
      .repeatedString(16, this.keywords).string(17, this.nameEn).string(18, this.abstractEn);
  }
}

class ResourceVersion {
  code: string = "";
  version: u32 = 0;
  directoryId: string = "";
  providerCode: string = "";
  providerOrganisation: string = "";
  metadata: Metadata = new Metadata();
  status: u32 = 0;
  author: string = "";
  height: u64 = 0;
  timeMs: i64 = 0;
  transactionId: Uint8Array = new Uint8Array(0);
  reason: string = "";

  static read(r: Reader): ResourceVersion {
    const v = new ResourceVersion();
    v.code = r.string(1);
    v.version = r.uint32(2);
    v.directoryId = r.string(3);
    v.providerCode = r.string(4);
    v.providerOrganisation = r.string(5);
    v.metadata = Metadata.read(r.message(6, "stored metadata"));
    v.status = r.uint32(7);
    v.author = r.string(8);
    v.height = r.uint64(9);
    v.timeMs = r.int64(10);
    v.transactionId = r.bytes(11).slice();
    v.reason = r.string(12);
    return v;
  }

  write(): Writer {
    return new Writer().string(1, this.code).uint32(2, this.version).string(3, this.directoryId)
      .string(4, this.providerCode).string(5, this.providerOrganisation)
      .message(6, this.metadata.write()).uint32(7, this.status).string(8, this.author)
      .uint64(9, this.height).int64(10, this.timeMs).bytes(11, this.transactionId)
      .string(12, this.reason);
  }
}

class ResourceHead {
  code: string = "";
  latestVersion: u32 = 0;
  status: u32 = 0;
  providerCode: string = "";

  static read(r: Reader): ResourceHead {
    const h = new ResourceHead();
    h.code = r.string(1);
    h.latestVersion = r.uint32(2);
    h.status = r.uint32(3);
    h.providerCode = r.string(4);
    return h;
  }

  write(): Writer {
    return new Writer().string(1, this.code).uint32(2, this.latestVersion).uint32(3, this.status)
      .string(4, this.providerCode);
  }
}

class SharingRequest {
  id: string = "";
  resourceCode: string = "";
  resourceVersion: u32 = 0;
  providerCode: string = "";
  requesterCode: string = "";
  requesterMember: string = "";
  purpose: string = "";
  dataItems: Array<string> = [];
  legalBasis: string = "";
  state: u32 = 0;
  createdMs: i64 = 0;
  answerByMs: i64 = 0;
  reason: string = "";
  terms: string = "";
  answeredBy: string = "";
  answeredMs: i64 = 0;
  receipts: u64 = 0;
  height: u64 = 0;
  transactionId: Uint8Array = new Uint8Array(0);

  static read(r: Reader): SharingRequest {
    const q = new SharingRequest();
    q.id = r.string(1);
    q.resourceCode = r.string(2);
    q.resourceVersion = r.uint32(3);
    q.providerCode = r.string(4);
    q.requesterCode = r.string(5);
    q.requesterMember = r.string(6);
    q.purpose = r.string(7);
    q.dataItems = r.repeatedString(8);
    q.legalBasis = r.string(9);
    q.state = r.uint32(10);
    q.createdMs = r.int64(11);
    q.answerByMs = r.int64(12);
    q.reason = r.string(13);
    q.terms = r.string(14);
    q.answeredBy = r.string(15);
    q.answeredMs = r.int64(16);
    q.receipts = r.uint64(17);
    q.height = r.uint64(18);
    q.transactionId = r.bytes(19).slice();
    return q;
  }

  write(): Writer {
    return new Writer().string(1, this.id).string(2, this.resourceCode)
      .uint32(3, this.resourceVersion).string(4, this.providerCode)
      .string(5, this.requesterCode).string(6, this.requesterMember).string(7, this.purpose)
      .repeatedString(8, this.dataItems).string(9, this.legalBasis).uint32(10, this.state)
      .int64(11, this.createdMs).int64(12, this.answerByMs).string(13, this.reason)
      .string(14, this.terms).string(15, this.answeredBy).int64(16, this.answeredMs)
      .uint64(17, this.receipts).uint64(18, this.height).bytes(19, this.transactionId);
  }
}

// -- helpers ---------------------------------------------------------------------------------

function byteLength(text: string): i32 {
  return String.UTF8.byteLength(text);
}

function checkText(what: string, text: string, minimum: i32, maximum: i32): void {
  const length = byteLength(text);
  if (length < minimum || length > maximum) {
    if (minimum > 0) revert(`${what} must be ${minimum} to ${maximum} bytes, not ${length}`);
    revert(`${what} must be at most ${maximum} bytes, not ${length}`);
  }
}

function isDigit(code: i32): bool {
  return code >= 0x30 && code <= 0x39;
}

function allDigits(text: string): bool {
  for (let index = 0; index < text.length; index++) {
    if (!isDigit(text.charCodeAt(index))) return false;
  }
  return true;
}

// The value of a string of decimal digits (checked by the caller; at most 19 of them). Written
// out rather than taken from I32/U64.parseInt, which bring a kilobyte of code this does not need.
function digitsValue(text: string): u64 {
  let value: u64 = 0;
  for (let index = 0; index < text.length; index++) {
    value = value * 10 + <u64>(text.charCodeAt(index) - 0x30);
  }
  return value;
}

// The values separated by ", " (Array.join would bring its own kilobyte of code).
function joined(values: Array<string>): string {
  let text = "";
  for (let index = 0; index < values.length; index++) {
    text += (index > 0 ? ", " : "") + values[index];
  }
  return text;
}

function padded(value: u64, digits: i32): string {
  return value.toString().padStart(digits, "0");
}

function contains(values: Array<string>, value: string): bool {
  for (let index = 0; index < values.length; index++) {
    if (values[index] == value) return true;
  }
  return false;
}

// The chain's hash function by name: the hash of "abc" (a test vector of both standards) tells
// SHA-256 from SM3 without the contract needing a context field the ABI does not have.
function hashAlgorithm(): string {
  const digest = hash("abc");
  if (digest[0] == 0xba && digest[1] == 0x78 && digest[2] == 0x16 && digest[3] == 0xbf) {
    return "SHA-256";
  }
  if (digest[0] == 0x66 && digest[1] == 0xc7 && digest[2] == 0xf0 && digest[3] == 0xf4) {
    return "SM3";
  }
  revert("the chain hashes with neither SHA-256 nor SM3: this contract cannot name its hashes");
  return unreachable();
}

function now(): i64 {
  return <i64>blockTimeMs();
}

function readInfo(): Info {
  const data = state.get(DIRECTORY_KEY);
  if (data === null) {
    revert("the directory is not initialised (init runs at deployment)");
    return unreachable();
  }
  return Info.read(new Reader(data, "the stored directory"));
}

// Writes a record after checking it fits a state value (a clearer message than the host's).
function putRecord(key: string, what: string, record: Writer): void {
  const data = record.finish();
  if (data.length > STATE_VALUE_BYTES_MAX) {
    revert(`${what} is ${data.length} bytes encoded, above the state's limit of ${STATE_VALUE_BYTES_MAX}`);
  }
  state.put(key, data);
}

function isAdministrator(info: Info): bool {
  return contains(info.settings.administrators, organisation());
}

function requireAdministrator(method: string, info: Info): void {
  if (!isAdministrator(info)) {
    revert(`${method}: only members of an administrator organisation (${joined(info.settings.administrators)}) may, not ${organisation()}`);
  }
}

function findDepartment(code: string): Department | null {
  const data = state.get(DEPARTMENT_PREFIX + code);
  if (data === null) return null;
  return Department.read(new Reader(data, "a stored department"));
}

// The department the caller's organisation acts for, or "" when it acts for none.
function callerDepartmentCode(): string {
  const organisationId = organisation();
  if (byteLength(organisationId) > ORGANISATION_BYTES_MAX) return "";
  const code = state.getString(ORGANISATION_PREFIX + organisationId);
  return code === null ? "" : code;
}

function requireCallerDepartment(method: string): string {
  const code = callerDepartmentCode();
  if (code.length == 0) {
    revert(`${method}: organisation ${organisation()} is not a registered department`);
  }
  return code;
}

function statusName(status: u32): string {
  if (status == STATUS_ACTIVE) return "ACTIVE";
  if (status == STATUS_WITHDRAWN) return "WITHDRAWN";
  return "UNSPECIFIED";
}

function stateName(value: u32): string {
  if (value == PENDING) return "PENDING";
  if (value == APPROVED) return "APPROVED";
  if (value == CONDITIONALLY_APPROVED) return "CONDITIONALLY_APPROVED";
  if (value == REFUSED) return "REFUSED";
  if (value == ESCALATED) return "ESCALATED";
  if (value == REVOKED) return "REVOKED";
  if (value == CANCELLED) return "CANCELLED";
  return "UNSPECIFIED";
}

// -- init and info ---------------------------------------------------------------------------

function checkDirectoryId(method: string, what: string, id: string, required: bool): void {
  const length = byteLength(id);
  if (!required && length == 0) return;
  if (length < 1 || length > DIRECTORY_ID_BYTES_MAX) {
    revert(`${method}: ${what} must be 1 to ${DIRECTORY_ID_BYTES_MAX} characters, not ${length} bytes`);
  }
  for (let index = 0; index < id.length; index++) {
    const code = id.charCodeAt(index);
    if (!(isDigit(code) || (code >= 0x61 && code <= 0x7a) || code == 0x2d)) {
      revert(`${method}: ${what} "${id}" may hold only a-z, 0-9 and '-'`);
    }
  }
}

export function init(): void {
  if (state.has(DIRECTORY_KEY)) revert("init: the directory is already initialised");
  const settings = Settings.read(readArguments());
  checkDirectoryId("init", "directory_id", settings.directoryId, true);
  if (settings.level == 0 || settings.level > LEVEL_MAX) {
    revert(`init: level must be DIRECTORY_LEVEL_CITY (1) or DIRECTORY_LEVEL_DISTRICT (2), not ${settings.level}`);
  }
  checkText("init: name", settings.name, 1, NAME_BYTES_MAX);
  const administrators = settings.administrators;
  if (administrators.length < 1 || administrators.length > ADMINISTRATORS_MAX) {
    revert(`init: 1 to ${ADMINISTRATORS_MAX} administrator organisations, not ${administrators.length}`);
  }
  for (let index = 0; index < administrators.length; index++) {
    checkText("init: an administrator organisation", administrators[index], 1, ORGANISATION_BYTES_MAX);
    for (let other = 0; other < index; other++) {
      if (administrators[other] == administrators[index]) {
        revert(`init: administrator organisation ${administrators[index]} is listed twice`);
      }
    }
  }
  checkDirectoryId("init", "parent_directory_id", settings.parentDirectoryId, false);
  if (settings.answerDays == 0) settings.answerDays = ANSWER_DAYS_DEFAULT;
  if (settings.answerDays > ANSWER_DAYS_MAX) {
    revert(`init: answer_days must be 1 to ${ANSWER_DAYS_MAX}, not ${settings.answerDays}`);
  }
  const info = new Info();
  info.settings = settings;
  putRecord(DIRECTORY_KEY, "the directory", info.write());
}

export function info(): void {
  setResult(readInfo().write());
}

// -- the scheme and the departments -----------------------------------------------------------

export function set_category(): void {
  const info = readInfo();
  requireAdministrator("set_category", info);
  const category = Category.read(readArguments().message(1, "category"));
  const code = category.code;
  if (code.length < 1 || code.length > 2 * <i32>CATEGORY_LEVEL_MAX || !allDigits(code)) {
    revert(`set_category: code "${code}" must be 1 to 6 digits: a category of 1 or 2, each level below adding 2`);
  }
  // One or two digits: a category; each level below adds two digits to its parent's code.
  const level: u32 = code.length <= 2 ? 1 : code.length <= 4 ? 2 : 3;
  const parent = level == 1 ? "" : code.substring(0, code.length - 2);
  if (category.level != 0 && category.level != level) {
    revert(`set_category: code ${code} is at level ${level}, not ${category.level}`);
  }
  if (category.parentCode.length > 0 && category.parentCode != parent) {
    revert(`set_category: the parent of ${code} is "${parent}", not "${category.parentCode}"`);
  }
  if (level > 1 && !state.has(CATEGORY_PREFIX + parent)) {
    revert(`set_category: parent category ${parent} of ${code} does not exist`);
  }
  checkText("set_category: name", category.name, 1, NAME_BYTES_MAX);
  checkText("set_category: name_en", category.nameEn, 0, NAME_BYTES_MAX);
  category.level = level;
  category.parentCode = parent;
  const record = category.write();
  putRecord(CATEGORY_PREFIX + code, "the category", record);
  emit("category_set", record);
}

function checkDepartmentCode(method: string, code: string): void {
  if (code.length < DEPARTMENT_CODE_BYTES_MIN || code.length > DEPARTMENT_CODE_BYTES_MAX) {
    revert(`${method}: department code "${code}" must be ${DEPARTMENT_CODE_BYTES_MIN} to ${DEPARTMENT_CODE_BYTES_MAX} of A-Z and 0-9`);
  }
  for (let index = 0; index < code.length; index++) {
    const character = code.charCodeAt(index);
    if (!(isDigit(character) || (character >= 0x41 && character <= 0x5a))) {
      revert(`${method}: department code "${code}" must be ${DEPARTMENT_CODE_BYTES_MIN} to ${DEPARTMENT_CODE_BYTES_MAX} of A-Z and 0-9`);
    }
  }
}

export function set_department(): void {
  const info = readInfo();
  requireAdministrator("set_department", info);
  const department = Department.read(readArguments().message(1, "department"));
  checkDepartmentCode("set_department", department.code);
  checkText("set_department: organisation", department.organisation, 1, ORGANISATION_BYTES_MAX);
  checkText("set_department: name", department.name, 1, NAME_BYTES_MAX);
  checkText("set_department: name_en", department.nameEn, 0, NAME_BYTES_MAX);
  checkText("set_department: district", department.district, 0, SHORT_TEXT_BYTES_MAX);
  checkStrings("set_department: duties", department.duties, DEPARTMENT_DUTIES_MAX, SHORT_TEXT_BYTES_MAX);
  // One department per organisation: an organisation's members act for exactly one.
  const mapped = state.getString(ORGANISATION_PREFIX + department.organisation);
  if (mapped !== null && mapped != department.code) {
    revert(`set_department: organisation ${department.organisation} already acts for department ${mapped}`);
  }
  const previous = findDepartment(department.code);
  if (previous !== null && previous.organisation != department.organisation) {
    // The department moves to another organisation: the old one no longer acts for it.
    state.remove(ORGANISATION_PREFIX + previous.organisation);
  }
  const record = department.write();
  putRecord(DEPARTMENT_PREFIX + department.code, "the department", record);
  state.put(ORGANISATION_PREFIX + department.organisation, department.code);
  emit("department_set", record);
}

// -- the catalogue ---------------------------------------------------------------------------

function isLeapYear(year: i32): bool {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

function checkDate(what: string, date: string): void {
  const message = `${what} "${date}" is not a date YYYY-MM-DD`;
  if (date.length != 10 || date.charCodeAt(4) != 0x2d || date.charCodeAt(7) != 0x2d) revert(message);
  const year = date.substring(0, 4);
  const month = date.substring(5, 7);
  const day = date.substring(8, 10);
  if (!allDigits(year) || !allDigits(month) || !allDigits(day)) revert(message);
  const yearValue = <i32>digitsValue(year);
  const monthValue = <i32>digitsValue(month);
  const dayValue = <i32>digitsValue(day);
  if (monthValue < 1 || monthValue > 12 || dayValue < 1) revert(message);
  let days = 31;
  if (monthValue == 4 || monthValue == 6 || monthValue == 9 || monthValue == 11) days = 30;
  if (monthValue == 2) days = isLeapYear(yearValue) ? 29 : 28;
  if (dayValue > days) revert(message);
}

function checkStrings(what: string, values: Array<string>, count: i32, bytes: i32): void {
  if (values.length > count) revert(`${what}: ${values.length}, above the limit of ${count}`);
  for (let index = 0; index < values.length; index++) {
    checkText(what, values[index], 1, bytes);
    for (let other = 0; other < index; other++) {
      if (values[other] == values[index]) revert(`${what}: "${values[index]}" is listed twice`);
    }
  }
}

// Checks metadata a department states and fills what the contract decides (hash algorithms).
function checkMetadata(method: string, metadata: Metadata, department: Department): void {
  const category = metadata.categoryCode;
  const stored = category.length > 0 ? state.get(CATEGORY_PREFIX + category) : null;
  if (stored === null) revert(`${method}: category "${category}" does not exist`);
  else {
    const level = Category.read(new Reader(stored, "a stored category")).level;
    if (level < 2) {
      revert(`${method}: category ${category} is a level 1 category; a resource goes under an item (level 2) or a sub-item (level 3)`);
    }
  }
  checkText(`${method}: name`, metadata.name, 1, NAME_BYTES_MAX);
  checkText(`${method}: name_en`, metadata.nameEn, 0, NAME_BYTES_MAX);
  checkText(`${method}: abstract`, metadata.summary, 0, TEXT_BYTES_MAX);
  checkText(`${method}: abstract_en`, metadata.abstractEn, 0, TEXT_BYTES_MAX);
  checkText(`${method}: format`, metadata.format, 0, SHORT_TEXT_BYTES_MAX);
  for (let index = 0; index < metadata.dataItems.length; index++) {
    const item = metadata.dataItems[index];
    checkText(`${method}: a data item's name`, item.name, 1, SHORT_TEXT_BYTES_MAX);
    if (!contains(DATA_ITEM_TYPES, item.type)) {
      revert(`${method}: data item "${item.name}" has type "${item.type}"; the types are ${joined(DATA_ITEM_TYPES)}`);
    }
    checkText(`${method}: a data item's description`, item.description, 0, DESCRIPTION_BYTES_MAX);
    for (let other = 0; other < index; other++) {
      if (metadata.dataItems[other].name == item.name) {
        revert(`${method}: data item "${item.name}" is listed twice`);
      }
    }
  }
  if (metadata.sharingType < SHARING_UNCONDITIONAL || metadata.sharingType > SHARING_NOT_SHARED) {
    revert(`${method}: sharing_type must be UNCONDITIONAL (1), CONDITIONAL (2) or NOT_SHARED (3), not ${metadata.sharingType}`);
  }
  if (metadata.sharingType != SHARING_UNCONDITIONAL && metadata.sharingConditions.length == 0) {
    revert(`${method}: sharing_conditions are required for a conditional or not shared resource (its conditions, or its legal basis)`);
  }
  checkText(`${method}: sharing_conditions`, metadata.sharingConditions, 0, TEXT_BYTES_MAX);
  checkText(`${method}: sharing_method`, metadata.sharingMethod, 0, SHORT_TEXT_BYTES_MAX);
  if (metadata.openness > OPENNESS_MAX) {
    revert(`${method}: openness ${metadata.openness} is not a known value (0 to ${OPENNESS_MAX})`);
  }
  checkText(`${method}: openness_conditions`, metadata.opennessConditions, 0, TEXT_BYTES_MAX);
  if (metadata.updateCycle > UPDATE_CYCLE_MAX) {
    revert(`${method}: update_cycle ${metadata.updateCycle} is not a known value (0 to ${UPDATE_CYCLE_MAX})`);
  }
  checkDate(`${method}: publish_date`, metadata.publishDate);
  checkStrings(`${method}: related_resources`, metadata.relatedResources, RELATED_RESOURCES_MAX, CODE_BYTES_MAX);
  for (let index = 0; index < metadata.relatedResources.length; index++) {
    const related = metadata.relatedResources[index];
    if (!state.has(HEAD_PREFIX + related)) revert(`${method}: related resource ${related} does not exist`);
  }
  checkStrings(`${method}: duties`, metadata.duties, DUTIES_MAX, SHORT_TEXT_BYTES_MAX);
  for (let index = 0; index < metadata.duties.length; index++) {
    if (!contains(department.duties, metadata.duties[index])) {
      revert(`${method}: "${metadata.duties[index]}" is not a duty of department ${department.code}`);
    }
  }
  checkStrings(`${method}: keywords`, metadata.keywords, KEYWORDS_MAX, SHORT_TEXT_BYTES_MAX);
  const algorithm = metadata.distributions.length > 0 ? hashAlgorithm() : "";
  for (let index = 0; index < metadata.distributions.length; index++) {
    const distribution = metadata.distributions[index];
    checkText(`${method}: a distribution's name`, distribution.name, 1, NAME_BYTES_MAX);
    checkText(`${method}: a distribution's format`, distribution.format, 0, SHORT_TEXT_BYTES_MAX);
    checkText(`${method}: a distribution's access_url`, distribution.accessUrl, 0, URL_BYTES_MAX);
    const length = distribution.hash.length;
    if (length != 0 && length != HASH_BYTES) {
      revert(`${method}: distribution "${distribution.name}" has a hash of ${length} bytes, not ${HASH_BYTES} (or none, for a service)`);
    }
    // The chain's algorithm, whatever the caller said: anyone checks a download against it.
    distribution.hashAlgorithm = length == 0 ? "" : algorithm;
  }
}

function readHead(method: string, code: string): ResourceHead {
  const length = byteLength(code);
  const data = length > 0 && length <= CODE_BYTES_MAX ? state.get(HEAD_PREFIX + code) : null;
  if (data === null) {
    revert(`${method}: resource "${code}" does not exist`);
    return unreachable();
  }
  return ResourceHead.read(new Reader(data, "a stored resource head"));
}

function versionKey(code: string, version: u32): string {
  return RESOURCE_PREFIX + code + "/" + padded(<u64>version, VERSION_DIGITS);
}

function readVersion(method: string, code: string, version: u32): ResourceVersion {
  const data = state.get(versionKey(code, version));
  if (data === null) {
    revert(`${method}: resource ${code} has no version ${version}`);
    return unreachable();
  }
  return ResourceVersion.read(new Reader(data, "a stored resource version"));
}

// Writes a new version and its head, and emits its event.
function writeVersion(version: ResourceVersion, event: string): void {
  version.author = caller();
  version.height = blockHeight();
  version.timeMs = now();
  version.transactionId = transactionId();
  const record = version.write();
  putRecord(versionKey(version.code, version.version), `resource ${version.code}`, record);
  const head = new ResourceHead();
  head.code = version.code;
  head.latestVersion = version.version;
  head.status = version.status;
  head.providerCode = version.providerCode;
  state.put(HEAD_PREFIX + version.code, head.write());
  emit(event, record);
}

export function register_resource(): void {
  const info = readInfo();
  const code = requireCallerDepartment("register_resource");
  const department = findDepartment(code);
  if (department === null) {
    revert(`register_resource: department ${code} has no record`);
    return;
  }
  const metadata = Metadata.read(readArguments().message(1, "metadata"));
  checkMetadata("register_resource", metadata, department);
  const sequenceKey = SEQUENCE_PREFIX + metadata.categoryCode;
  const sequence = state.getU64(sequenceKey) + 1;
  if (sequence > SEQUENCE_MAX) {
    revert(`register_resource: category ${metadata.categoryCode} has used all ${SEQUENCE_MAX} resource numbers`);
  }
  // The sequence only counts up, so a code is never given twice, even after a withdrawal.
  state.putU64(sequenceKey, sequence);
  const version = new ResourceVersion();
  version.code = metadata.categoryCode + "-" + department.code + "-" + padded(sequence, 6);
  version.version = 1;
  version.directoryId = info.settings.directoryId;
  // The provider is the caller's department by construction: nothing in the input names it.
  version.providerCode = department.code;
  version.providerOrganisation = department.organisation;
  version.metadata = metadata;
  version.status = STATUS_ACTIVE;
  writeVersion(version, "resource_registered");
  info.resources += 1;
  putRecord(DIRECTORY_KEY, "the directory", info.write());
  setResult(new Writer().string(1, version.code).uint32(2, version.version));
}

// The latest version of a resource the caller's department provides, at `expected`.
function providerLatest(method: string, code: string, expected: u32): ResourceVersion {
  const head = readHead(method, code);
  const callerCode = callerDepartmentCode();
  if (callerCode != head.providerCode) {
    revert(`${method}: resource ${code} is provided by department ${head.providerCode}; organisation ${organisation()} does not act for it`);
  }
  if (head.status != STATUS_ACTIVE) {
    revert(`${method}: resource ${code} is ${statusName(head.status)}, not ACTIVE`);
  }
  if (expected != head.latestVersion) {
    revert(`${method}: resource ${code} is at version ${head.latestVersion}, not ${expected}`);
  }
  return readVersion(method, code, head.latestVersion);
}

export function revise_resource(): void {
  const input = readArguments();
  const code = input.string(1);
  const latest = providerLatest("revise_resource", code, input.uint32(2));
  const metadata = Metadata.read(input.message(3, "metadata"));
  const note = input.string(4);
  checkText("revise_resource: note", note, 0, TEXT_BYTES_MAX);
  if (metadata.categoryCode != latest.metadata.categoryCode) {
    revert(`revise_resource: the category of ${code} is ${latest.metadata.categoryCode}, fixed by its code; register a new resource for another`);
  }
  const department = findDepartment(latest.providerCode);
  if (department === null) {
    revert(`revise_resource: department ${latest.providerCode} has no record`);
    return;
  }
  checkMetadata("revise_resource", metadata, department);
  for (let index = 0; index < metadata.relatedResources.length; index++) {
    if (metadata.relatedResources[index] == code) revert("revise_resource: a resource cannot relate to itself");
  }
  const version = new ResourceVersion();
  version.code = code;
  version.version = latest.version + 1;
  version.directoryId = latest.directoryId;
  version.providerCode = latest.providerCode;
  version.providerOrganisation = department.organisation;
  version.metadata = metadata;
  version.status = STATUS_ACTIVE;
  version.reason = note;
  writeVersion(version, "resource_revised");
}

export function withdraw_resource(): void {
  const input = readArguments();
  const code = input.string(1);
  const latest = providerLatest("withdraw_resource", code, input.uint32(2));
  const reason = input.string(3);
  checkText("withdraw_resource: reason", reason, 1, TEXT_BYTES_MAX);
  const version = new ResourceVersion();
  version.code = code;
  version.version = latest.version + 1;
  version.directoryId = latest.directoryId;
  version.providerCode = latest.providerCode;
  version.providerOrganisation = latest.providerOrganisation;
  version.metadata = latest.metadata;
  version.status = STATUS_WITHDRAWN;
  version.reason = reason;
  writeVersion(version, "resource_withdrawn");
}

export function get_resource(): void {
  const input = readArguments();
  const code = input.string(1);
  const head = readHead("get_resource", code);
  const version = input.uint32(2);
  const data = state.get(versionKey(code, version == 0 ? head.latestVersion : version));
  if (data === null) revert(`get_resource: resource ${code} has no version ${version}`);
  else setResult<Uint8Array>(data);
}

export function resource_history(): void {
  const code = readArguments().string(1);
  readHead("resource_history", code);
  const prefix = RESOURCE_PREFIX + code + "/";
  const result = new Writer();
  const versions = new Array<Uint8Array>();
  let startAfter = "";
  while (true) {
    const entries = state.range(prefix, startAfter, HISTORY_PAGE);
    for (let index = 0; index < entries.length; index++) versions.push(entries[index].value);
    if (entries.length < HISTORY_PAGE) break;
    startAfter = entries[entries.length - 1].keyString();
  }
  // Stored versions are already ResourceVersion messages: written as they are.
  result.repeatedBytes(1, versions);
  setResult(result);
}

function checkStartAfter(method: string, startAfter: string): void {
  checkText(`${method}: start_after`, startAfter, 0, CODE_BYTES_MAX);
}

function pageLimit(method: string, limit: u32): i32 {
  if (limit == 0) return PAGE_DEFAULT;
  if (limit > <u32>PAGE_MAX) revert(`${method}: the limit is at most ${PAGE_MAX}`);
  return <i32>limit;
}

export function list_resources(): void {
  const input = readArguments();
  const startAfter = input.string(1);
  checkStartAfter("list_resources", startAfter);
  const limit = pageLimit("list_resources", input.uint32(2));
  // One entry more than asked tells whether another page follows.
  const entries = state.range(HEAD_PREFIX, startAfter.length > 0 ? HEAD_PREFIX + startAfter : "", limit + 1);
  const heads = new Array<Uint8Array>();
  for (let index = 0; index < min(entries.length, limit); index++) heads.push(entries[index].value);
  const next = entries.length > limit
    ? entries[limit - 1].keyString().substring(HEAD_PREFIX.length)
    : "";
  setResult(new Writer().repeatedBytes(1, heads).string(2, next));
}

// -- sharing ---------------------------------------------------------------------------------

function readRequest(method: string, id: string): SharingRequest {
  const length = byteLength(id);
  const data = length > 0 && length <= CODE_BYTES_MAX ? state.get(REQUEST_PREFIX + id) : null;
  if (data === null) {
    revert(`${method}: request "${id}" does not exist`);
    return unreachable();
  }
  return SharingRequest.read(new Reader(data, "a stored request"));
}

// Rewrites the request as of this transition and emits its event.
function transition(request: SharingRequest, event: string): void {
  request.height = blockHeight();
  request.transactionId = transactionId();
  const record = request.write();
  putRecord(REQUEST_PREFIX + request.id, `request ${request.id}`, record);
  emit(event, record);
}

export function request_sharing(): void {
  const info = readInfo();
  const input = readArguments();
  const requester = requireCallerDepartment("request_sharing");
  const code = input.string(1);
  const head = readHead("request_sharing", code);
  if (head.status != STATUS_ACTIVE) {
    revert(`request_sharing: resource ${code} is ${statusName(head.status)}, not ACTIVE`);
  }
  if (head.providerCode == requester) {
    revert(`request_sharing: department ${requester} provides ${code}; a department does not request its own resource`);
  }
  const latest = readVersion("request_sharing", code, head.latestVersion);
  if (latest.metadata.sharingType == SHARING_NOT_SHARED) {
    revert(`request_sharing: resource ${code} is not shared (${latest.metadata.sharingConditions})`);
  }
  const purpose = input.string(2);
  checkText("request_sharing: purpose", purpose, 1, TEXT_BYTES_MAX);
  const items = input.repeatedString(3);
  checkStrings("request_sharing: data_items", items, DATA_ITEMS_MAX, SHORT_TEXT_BYTES_MAX);
  for (let index = 0; index < items.length; index++) {
    let found = false;
    for (let known = 0; known < latest.metadata.dataItems.length; known++) {
      if (latest.metadata.dataItems[known].name == items[index]) found = true;
    }
    if (!found) revert(`request_sharing: resource ${code} has no data item "${items[index]}"`);
  }
  const legalBasis = input.string(4);
  checkText("request_sharing: legal_basis", legalBasis, 0, TEXT_BYTES_MAX);
  const number = info.requests + 1;
  if (number > REQUESTS_MAX) revert("request_sharing: the directory has used every request number");
  info.requests = number;
  putRecord(DIRECTORY_KEY, "the directory", info.write());
  const request = new SharingRequest();
  request.id = "R" + padded(number, 10);
  request.resourceCode = code;
  request.resourceVersion = head.latestVersion;
  request.providerCode = head.providerCode;
  request.requesterCode = requester;
  request.requesterMember = caller();
  request.purpose = purpose;
  request.dataItems = items;
  request.legalBasis = legalBasis;
  request.state = PENDING;
  request.createdMs = now();
  request.answerByMs = now() + <i64>info.settings.answerDays * DAY_MS;
  transition(request, "request_created");
  setResult(new Writer().string(1, request.id));
}

// Who answers (approves, refuses): the provider's members while PENDING, the administrators
// once ESCALATED.
function requireAnswerer(method: string, request: SharingRequest): void {
  if (request.state == PENDING) {
    if (callerDepartmentCode() != request.providerCode) {
      revert(`${method}: only members of the provider department ${request.providerCode} answer request ${request.id} while it is PENDING, not ${organisation()}`);
    }
  } else if (request.state == ESCALATED) {
    if (!isAdministrator(readInfo())) {
      revert(`${method}: request ${request.id} is ESCALATED: only the administrators answer it, not ${organisation()}`);
    }
  } else {
    revert(`${method}: request ${request.id} is ${stateName(request.state)}, not PENDING or ESCALATED`);
  }
}

export function approve(): void {
  const input = readArguments();
  const request = readRequest("approve", input.string(1));
  const terms = input.string(2);
  requireAnswerer("approve", request);
  checkText("approve: terms", terms, 0, TEXT_BYTES_MAX);
  const head = readHead("approve", request.resourceCode);
  if (head.status != STATUS_ACTIVE) {
    revert(`approve: resource ${request.resourceCode} is ${statusName(head.status)}, not ACTIVE`);
  }
  const requested = readVersion("approve", request.resourceCode, request.resourceVersion);
  if (requested.metadata.sharingType == SHARING_CONDITIONAL && terms.length == 0) {
    revert(`approve: resource ${request.resourceCode} is shared on conditions: approve request ${request.id} with terms`);
  }
  request.state = terms.length == 0 ? APPROVED : CONDITIONALLY_APPROVED;
  request.terms = terms;
  request.answeredBy = caller();
  request.answeredMs = now();
  transition(request, terms.length == 0 ? "request_approved" : "request_conditionally_approved");
}

export function refuse(): void {
  const input = readArguments();
  const request = readRequest("refuse", input.string(1));
  const reason = input.string(2);
  requireAnswerer("refuse", request);
  checkText("refuse: reason", reason, 1, TEXT_BYTES_MAX);
  request.state = REFUSED;
  request.reason = reason;
  request.answeredBy = caller();
  request.answeredMs = now();
  transition(request, "request_refused");
}

export function escalate(): void {
  const request = readRequest("escalate", readArguments().string(1));
  if (request.state != PENDING) {
    revert(`escalate: request ${request.id} is ${stateName(request.state)}, not PENDING`);
  }
  if (now() <= request.answerByMs) {
    revert(`escalate: request ${request.id} may be answered until ${request.answerByMs} ms; it is ${now()} ms`);
  }
  request.state = ESCALATED;
  transition(request, "request_escalated");
}

export function revoke(): void {
  const input = readArguments();
  const request = readRequest("revoke", input.string(1));
  const reason = input.string(2);
  if (request.state != APPROVED && request.state != CONDITIONALLY_APPROVED) {
    revert(`revoke: request ${request.id} is ${stateName(request.state)}, not APPROVED or CONDITIONALLY_APPROVED`);
  }
  if (callerDepartmentCode() != request.providerCode && !isAdministrator(readInfo())) {
    revert(`revoke: only members of the provider department ${request.providerCode} or the administrators revoke request ${request.id}, not ${organisation()}`);
  }
  checkText("revoke: reason", reason, 1, TEXT_BYTES_MAX);
  request.state = REVOKED;
  request.reason = reason;
  transition(request, "request_revoked");
}

export function cancel(): void {
  const input = readArguments();
  const request = readRequest("cancel", input.string(1));
  const reason = input.string(2);
  if (request.state != PENDING && request.state != ESCALATED) {
    revert(`cancel: request ${request.id} is ${stateName(request.state)}, not PENDING or ESCALATED`);
  }
  if (callerDepartmentCode() != request.requesterCode) {
    revert(`cancel: only members of the requesting department ${request.requesterCode} cancel request ${request.id}, not ${organisation()}`);
  }
  checkText("cancel: reason", reason, 0, TEXT_BYTES_MAX);
  request.state = CANCELLED;
  request.reason = reason;
  transition(request, "request_cancelled");
}

export function record_usage(): void {
  const input = readArguments();
  const request = readRequest("record_usage", input.string(1));
  if (request.state != APPROVED && request.state != CONDITIONALLY_APPROVED) {
    revert(`record_usage: request ${request.id} is ${stateName(request.state)}, not APPROVED or CONDITIONALLY_APPROVED`);
  }
  if (callerDepartmentCode() != request.requesterCode) {
    revert(`record_usage: only members of the requesting department ${request.requesterCode} record usage of request ${request.id}, not ${organisation()}`);
  }
  const purpose = input.string(2);
  checkText("record_usage: purpose", purpose, 0, TEXT_BYTES_MAX);
  const digest = input.bytes(3);
  if (digest.length != 0 && digest.length != HASH_BYTES) {
    revert(`record_usage: the digest is ${digest.length} bytes, not ${HASH_BYTES} (or none)`);
  }
  const sequence = request.receipts + 1;
  const receipt = new Writer().string(1, request.id).uint64(2, sequence).string(3, caller())
    .int64(4, now()).string(5, purpose).bytes(6, digest).uint64(7, input.uint64(4));
  putRecord(RECEIPT_PREFIX + request.id + "/" + padded(sequence, 10), "the receipt", receipt);
  // The request's record counts its receipts. A receipt is not a transition: the record keeps
  // the height and transaction of its last one, and the event is the receipt's.
  request.receipts = sequence;
  putRecord(REQUEST_PREFIX + request.id, `request ${request.id}`, request.write());
  emit("usage_recorded", receipt);
}

export function get_request(): void {
  const id = readArguments().string(1);
  setResult(readRequest("get_request", id).write());
}

export function list_requests(): void {
  const input = readArguments();
  const startAfter = input.string(1);
  checkStartAfter("list_requests", startAfter);
  const limit = pageLimit("list_requests", input.uint32(2));
  const entries = state.range(REQUEST_PREFIX, startAfter.length > 0 ? REQUEST_PREFIX + startAfter : "", limit + 1);
  const requests = new Array<Uint8Array>();
  for (let index = 0; index < min(entries.length, limit); index++) requests.push(entries[index].value);
  const next = entries.length > limit
    ? entries[limit - 1].keyString().substring(REQUEST_PREFIX.length)
    : "";
  setResult(new Writer().repeatedBytes(1, requests).string(2, next));
}

export function list_receipts(): void {
  const input = readArguments();
  const request = readRequest("list_receipts", input.string(1));
  const startAfter = input.uint64(2);
  const limit = pageLimit("list_receipts", input.uint32(3));
  const prefix = RECEIPT_PREFIX + request.id + "/";
  const entries = state.range(prefix, startAfter > 0 ? prefix + padded(startAfter, 10) : "", limit + 1);
  const receipts = new Array<Uint8Array>();
  for (let index = 0; index < min(entries.length, limit); index++) receipts.push(entries[index].value);
  const next: u64 = entries.length > limit
    ? digitsValue(entries[limit - 1].keyString().substring(prefix.length))
    : 0;
  setResult(new Writer().repeatedBytes(1, receipts).uint64(2, next));
}

// -- districts rolled up into the city's (city level) --------------------------------------------
//
// A city directory keeps each district directory it rolls up ("district/<code>", set by the
// administrators): which of the city chain's light clients follows the district's chain, and the
// district contract's name there. Anyone brings a district ResourceVersion with a state proof;
// clients.verify_state (a read-only native method, which `call` reaches) checks the proof
// against the state root of a district header the client verified, and only then is the record
// kept. The key the proof must be of is computed here from the record and the district's
// registration, and the client is the registered one: nothing the submitter says is believed
// except the bytes the proof vouches for (docs/interchain.md, "Verify state").

// The state namespace of a user contract named N on any Causeway chain is "wasm/N/"
// (causeway.execution.keys.user_contract_namespace; names hold no "/", so namespaces never
// nest). It is computed here from the registered name, rather than registered as bytes, so that
// an administrator cannot point a district at another contract's (or a system) namespace, and so
// that a district record reads as the name a governance deployment gave.
const USER_CONTRACT_NAMESPACE_PREFIX = "wasm/";
const DIRECTORY_LEVEL_CITY: u32 = 1;
const DISTRICT_PREFIX = "district/";
const ROLLUP_PREFIX = "rollup/";
const ROLLUP_HEAD_PREFIX = "rollup_head/";
const DISTRICT_CODE_BYTES_MIN = 2;           // "HD", "SJS": the city's district codes
const DISTRICT_CODE_BYTES_MAX = 8;
const CHAIN_ID_BYTES_MAX = 64;               // provisioning's rule for chain ids
const CONTRACT_NAME_BYTES_MAX = 64;          // the code contract's rule: [a-z][a-z0-9_-]{0,63}
const CLIENT_ID_DIGITS_MAX = 20;             // the clients contract's rule: client-(0|[1-9][0-9]{0,19})
// "rollup/<district>/<code>/<version>" inside a state key, and a rolled-up record (the district's
// version plus at most a few hundred bytes of attestation) inside a state value.
const ROLLUP_OVERHEAD_BYTES = 1024;
// clients.verify_state's results (ClientsVerifyStateResult) and clients.get's, fields used here.
const CONSENSUS_STATE_FIELD = 1;
const CLIENT_STATE_FIELD = 1;
const CLIENT_CHAIN_ID_FIELD = 2;

class District {
  code: string = "";
  directoryId: string = "";
  clientId: string = "";
  chainId: string = "";
  contractName: string = "";

  static read(r: Reader): District {
    const d = new District();
    d.code = r.string(1);
    d.directoryId = r.string(2);
    d.clientId = r.string(3);
    d.chainId = r.string(4);
    d.contractName = r.string(5);
    return d;
  }

  write(): Writer {
    return new Writer().string(1, this.code).string(2, this.directoryId)
      .string(3, this.clientId).string(4, this.chainId).string(5, this.contractName);
  }
}

class RolledUpHead {
  districtCode: string = "";
  code: string = "";
  latestVersion: u32 = 0;
  status: u32 = 0;
  provenHeight: u64 = 0;
  districtTimeMs: i64 = 0;

  static read(r: Reader): RolledUpHead {
    const h = new RolledUpHead();
    h.districtCode = r.string(1);
    h.code = r.string(2);
    h.latestVersion = r.uint32(3);
    h.status = r.uint32(4);
    h.provenHeight = r.uint64(5);
    h.districtTimeMs = r.int64(6);
    return h;
  }

  write(): Writer {
    return new Writer().string(1, this.districtCode).string(2, this.code)
      .uint32(3, this.latestVersion).uint32(4, this.status).uint64(5, this.provenHeight)
      .int64(6, this.districtTimeMs);
  }
}

function requireCity(method: string, info: Info): void {
  if (info.settings.level != DIRECTORY_LEVEL_CITY) {
    revert(`${method}: directory ${info.settings.directoryId} is a district directory; only a city directory keeps districts and roll-ups`);
  }
}

function checkDistrictCode(method: string, code: string): void {
  let valid = code.length >= DISTRICT_CODE_BYTES_MIN && code.length <= DISTRICT_CODE_BYTES_MAX;
  for (let index = 0; valid && index < code.length; index++) {
    const character = code.charCodeAt(index);
    if (character < 0x41 || character > 0x5a) valid = false;
  }
  if (!valid) {
    revert(`${method}: district code "${code}" must be ${DISTRICT_CODE_BYTES_MIN} to ${DISTRICT_CODE_BYTES_MAX} of A-Z`);
  }
}

function checkClientId(method: string, id: string): void {
  const digits = id.startsWith("client-") ? id.substring(7) : "";
  const valid = digits.length >= 1 && digits.length <= CLIENT_ID_DIGITS_MAX && allDigits(digits)
    && (digits.length == 1 || digits.charCodeAt(0) != 0x30);
  if (!valid) revert(`${method}: client id "${id}" is not of the form client-<n>`);
}

function checkContractName(method: string, name: string): void {
  let valid = name.length >= 1 && name.length <= CONTRACT_NAME_BYTES_MAX;
  for (let index = 0; valid && index < name.length; index++) {
    const character = name.charCodeAt(index);
    const lower = character >= 0x61 && character <= 0x7a;
    if (!(lower || (index > 0 && (isDigit(character) || character == 0x5f || character == 0x2d)))) {
      valid = false;
    }
  }
  if (!valid) {
    revert(`${method}: contract name "${name}" is not a user contract's name`);
  }
}

function readDistrict(method: string, code: string): District {
  const data = byteLength(code) <= DISTRICT_CODE_BYTES_MAX ? state.get(DISTRICT_PREFIX + code) : null;
  if (data === null) {
    revert(`${method}: district "${code}" is not registered with this directory (set_district)`);
    return unreachable();
  }
  return District.read(new Reader(data, "a stored district"));
}

// The absolute key of a resource version in the district chain's state.
function districtResourceKey(district: District, code: string, version: u32): string {
  return USER_CONTRACT_NAMESPACE_PREFIX + district.contractName + "/" + versionKey(code, version);
}

function rollupKey(districtCode: string, code: string, version: u32): string {
  return ROLLUP_PREFIX + districtCode + "/" + code + "/" + padded(<u64>version, VERSION_DIGITS);
}

export function set_district(): void {
  const info = readInfo();
  requireCity("set_district", info);
  requireAdministrator("set_district", info);
  const district = District.read(readArguments().message(1, "district"));
  checkDistrictCode("set_district", district.code);
  checkDirectoryId("set_district", "directory_id", district.directoryId, true);
  if (district.directoryId == info.settings.directoryId) {
    revert(`set_district: directory ${district.directoryId} is this directory, not a district's`);
  }
  checkClientId("set_district", district.clientId);
  checkText("set_district: chain_id", district.chainId, 1, CHAIN_ID_BYTES_MAX);
  checkContractName("set_district", district.contractName);
  // The client must exist and follow the chain the district names: its chain id is the
  // client's verified state, not the administrator's word.
  const found = call("clients", "get", new Writer().string(1, district.clientId));
  if (!found.ok) {
    revert(`set_district: client ${district.clientId} of this chain cannot be read: ${found.message()}`);
  }
  const client = found.reader().message(CLIENT_STATE_FIELD, "the client");
  const clientChain = client.string(CLIENT_CHAIN_ID_FIELD);
  if (clientChain != district.chainId) {
    revert(`set_district: client ${district.clientId} follows chain "${clientChain}", not "${district.chainId}"`);
  }
  const record = district.write();
  putRecord(DISTRICT_PREFIX + district.code, `district ${district.code}`, record);
  emit("district_set", record);
}

export function get_district(): void {
  const code = readArguments().string(1);
  setResult(readDistrict("get_district", code).write());
}

export function rollup_resource(): void {
  const info = readInfo();
  requireCity("rollup_resource", info);
  const input = readArguments();
  const districtCode = input.string(1);
  const data = input.bytes(2).slice();
  const provenHeight = input.uint64(3);
  const proof = input.bytes(4);
  const district = readDistrict("rollup_resource", districtCode);
  if (data.length == 0) revert("rollup_resource: resource_version is empty");
  if (data.length > STATE_VALUE_BYTES_MAX - ROLLUP_OVERHEAD_BYTES) {
    revert(`rollup_resource: resource_version is ${data.length} bytes, above ${STATE_VALUE_BYTES_MAX - ROLLUP_OVERHEAD_BYTES}`);
  }
  if (provenHeight == 0) revert("rollup_resource: height is 0");
  const version = ResourceVersion.read(new Reader(data, "the district's resource version"));
  // A record carries no level: that it is a district directory's is the registration's word (the
  // administrators name the district's directory id and contract), and the proof's that the
  // district chain holds it in that contract's state.
  if (version.directoryId != district.directoryId) {
    revert(`rollup_resource: the record is of directory "${version.directoryId}", not district ${district.code}'s (${district.directoryId})`);
  }
  const codeLength = byteLength(version.code);
  if (codeLength < 1 || codeLength > CODE_BYTES_MAX || version.code.includes("/")) {
    revert(`rollup_resource: "${version.code}" is not a resource code`);
  }
  if (version.version == 0) revert(`rollup_resource: resource ${version.code} has version 0`);
  // (c) The district chain holds exactly these bytes under the record's own key at that height.
  const key = districtResourceKey(district, version.code, version.version);
  const verified = call("clients", "verify_state", new Writer().string(1, district.clientId)
    .uint64(2, provenHeight).string(3, key).bytes(4, data).bytes(6, proof));
  if (!verified.ok) {
    // The clients contract's message names the key, the height and the client.
    revert(`rollup_resource: district ${district.code}'s chain ${district.chainId} does not prove the record: ${verified.message()}`);
  }
  const consensus = verified.reader().message(CONSENSUS_STATE_FIELD, "the verified consensus state");
  // (d) Only a later version moves the roll-up on; the latest again changes nothing.
  const headKey = ROLLUP_HEAD_PREFIX + district.code + "/" + version.code;
  const storedHead = state.get(headKey);
  if (storedHead !== null) {
    const head = RolledUpHead.read(new Reader(storedHead, "a stored rolled-up head"));
    if (version.version == head.latestVersion) {
      const kept = state.get(rollupKey(district.code, version.code, version.version));
      if (kept === null) revert(`rollup_resource: rolled-up version ${version.version} of ${version.code} has no record`);
      else setResult(new Writer().bytes(1, kept).bool(2, true));
      return;
    }
    if (version.version < head.latestVersion) {
      revert(`rollup_resource: district ${district.code}'s resource ${version.code} is rolled up at version ${head.latestVersion}; version ${version.version} is older`);
    }
  }
  const districtTimeMs = consensus.int64(2);
  // (e) The record, and the head.
  const record = new Writer().string(1, district.code).string(2, district.chainId)
    .string(3, district.clientId).uint64(4, provenHeight).int64(5, districtTimeMs)
    .bytes(6, consensus.bytes(3)).bytes(7, consensus.bytes(4))
    // The district's record byte for byte (a nested message is its bytes on the wire): what the
    // proof vouched for, so anyone can check it again against the district's chain.
    .bytes(8, data)
    .string(9, caller()).uint64(10, blockHeight()).int64(11, now())
    .bytes(12, transactionId());
  putRecord(rollupKey(district.code, version.code, version.version), `rolled-up resource ${version.code}`, record);
  const head = new RolledUpHead();
  head.districtCode = district.code;
  head.code = version.code;
  head.latestVersion = version.version;
  head.status = version.status;
  head.provenHeight = provenHeight;
  head.districtTimeMs = districtTimeMs;
  state.put(headKey, head.write());
  // (f)
  const recordData = record.finish();
  emit("resource_rolled_up", recordData);
  setResult(new Writer().bytes(1, recordData));
}

export function get_rollup(): void {
  const input = readArguments();
  const district = readDistrict("get_rollup", input.string(1));
  const code = input.string(2);
  const codeLength = byteLength(code);
  const headData = codeLength > 0 && codeLength <= CODE_BYTES_MAX
    ? state.get(ROLLUP_HEAD_PREFIX + district.code + "/" + code)
    : null;
  if (headData === null) {
    revert(`get_rollup: district ${district.code} has no rolled-up resource "${code}"`);
    return;
  }
  const head = RolledUpHead.read(new Reader(headData, "a stored rolled-up head"));
  const version = input.uint32(3);
  const data = state.get(rollupKey(district.code, code, version == 0 ? head.latestVersion : version));
  if (data === null) revert(`get_rollup: district ${district.code}'s resource ${code} has no rolled-up version ${version}`);
  else setResult<Uint8Array>(data);
}

export function list_rollups(): void {
  const input = readArguments();
  const districtCode = input.string(1);
  if (districtCode.length > 0) readDistrict("list_rollups", districtCode);
  const startAfter = input.string(2);
  checkText("list_rollups: start_after", startAfter, 0, DISTRICT_CODE_BYTES_MAX + 1 + CODE_BYTES_MAX);
  const limit = pageLimit("list_rollups", input.uint32(3));
  const prefix = districtCode.length > 0 ? ROLLUP_HEAD_PREFIX + districtCode + "/" : ROLLUP_HEAD_PREFIX;
  const entries = state.range(prefix, startAfter.length > 0 ? prefix + startAfter : "", limit + 1);
  const heads = new Array<Uint8Array>();
  for (let index = 0; index < min(entries.length, limit); index++) heads.push(entries[index].value);
  const next = entries.length > limit
    ? entries[limit - 1].keyString().substring(prefix.length)
    : "";
  setResult(new Writer().repeatedBytes(1, heads).string(2, next));
}
