// Every label of the pages in Chinese and English. The language is kept in localStorage
// ("directory.language"); Chinese unless the user chose English.

const STORAGE_KEY = "directory.language";
export const LANGUAGES = ["zh", "en"];

const TEXTS = {
  title: ["政务信息资源目录", "Government data directory"],
  search: ["资源检索", "Search"],
  register: ["资源注册", "Register a resource"],
  requests: ["共享申请", "Sharing requests"],
  switchLanguage: ["English", "中文"],
  token: ["API 令牌", "API token"],
  signIn: ["登录", "Sign in"],
  signOut: ["退出", "Sign out"],
  signedInAs: ["当前部门", "Signed in for"],
  notSignedIn: ["未登录：检索和查看无需登录，注册和申请需要 API 令牌。", "Not signed in: searching and reading need no token; registering and requesting do."],
  query: ["关键词", "Keywords"],
  searchButton: ["检索", "Search"],
  results: ["条结果", "results"],
  noResults: ["没有符合条件的资源。", "No resource matches."],
  previous: ["上一页", "Previous"],
  next: ["下一页", "Next"],
  page: ["第 {0} / {1} 页", "Page {0} of {1}"],
  filters: ["筛选", "Filters"],
  clearFilter: ["取消筛选", "remove filter"],
  facet_organization: ["部门", "Department"],
  facet_district: ["区县", "District"],
  facet_groups: ["资源分类", "Category"],
  facet_sharing_type: ["共享类型", "Sharing type"],
  facet_res_format: ["数据格式", "Format"],
  facet_update_cycle: ["更新周期", "Update cycle"],
  cityLevel: ["市级", "City"],
  code: ["资源代码", "Resource code"],
  name: ["资源名称", "Name"],
  nameEn: ["英文名称", "Name in English"],
  abstract: ["资源摘要", "Abstract"],
  abstractEn: ["英文摘要", "Abstract in English"],
  provider: ["提供方", "Provider"],
  category: ["资源分类", "Category"],
  format: ["资源格式", "Resource format"],
  sharingType: ["共享类型", "Sharing type"],
  sharingConditions: ["共享条件", "Sharing conditions"],
  sharingMethod: ["共享方式", "Sharing method"],
  openness: ["开放属性", "Openness"],
  updateCycle: ["更新周期", "Update cycle"],
  publishDate: ["发布日期", "Publish date"],
  keywords: ["关键字", "Keywords"],
  version: ["版本", "Version"],
  status: ["状态", "Status"],
  dataItems: ["信息项", "Data items"],
  itemName: ["名称", "Name"],
  itemType: ["数据类型", "Type"],
  itemLength: ["长度", "Length"],
  itemDescription: ["说明", "Description"],
  distributions: ["数据分发", "Distributions"],
  url: ["访问地址", "Access URL"],
  hash: ["哈希", "Hash"],
  size: ["大小（字节）", "Size (bytes)"],
  history: ["版本历史", "History"],
  transactionId: ["交易 ID", "Transaction id"],
  height: ["区块高度", "Height"],
  time: ["时间", "Time"],
  author: ["提交人", "Author"],
  note: ["说明", "Note"],
  verify: ["验证", "Verify"],
  verifying: ["正在验证…", "Verifying…"],
  verified: ["验证通过", "verified"],
  verifyFailed: ["验证失败", "failed"],
  rolledUpFrom: ["汇聚自区级目录", "rolled up from district"],
  rolledUpVia: ["经城市链轻客户端验证", "proven by the city chain's light client"],
  recordMatches: ["链上记录与本页版本一致", "the chain's record is this version"],
  verifyUnavailable: ["本服务未连接节点，无法验证。", "This service reads no node: nothing to verify against."],
  requestThis: ["申请共享此资源", "Request this resource"],
  purpose: ["申请用途", "Purpose"],
  legalBasis: ["法律依据", "Legal basis"],
  requestedItems: ["申请的信息项（不选即全部）", "Data items requested (none: all)"],
  sendRequest: ["提交申请", "Send the request"],
  requestSent: ["申请已提交，编号 ", "Request sent: "],
  revise: ["修订", "Revise"],
  ownResource: ["本部门的资源", "A resource of your department"],
  save: ["提交到链上", "Submit to the chain"],
  saved: ["已上链", "Recorded on the chain"],
  distributionName: ["分发名称", "Distribution name"],
  distributionFormat: ["分发格式", "Distribution format"],
  dataItemsHelp: ["每行一项：名称,类型（string, integer, decimal, date, datetime, boolean, binary）", "One per line: name,type (string, integer, decimal, date, datetime, boolean, binary)"],
  choose: ["请选择", "Choose"],
  incoming: ["待本部门处理的申请", "Requests addressed to your department"],
  outgoing: ["本部门提出的申请", "Requests made by your department"],
  noRequests: ["暂无申请。", "No requests."],
  escalatedNav: ["提级申请", "Escalated requests"],
  escalated: ["提级待管理员处理的申请", "Requests escalated to the administrators"],
  escalatedHelp: ["提供部门逾期未答复的申请，由目录管理员同意或拒绝（拒绝须说明理由）。", "Requests their providers left unanswered past the answer time: the directory's administrators approve or refuse them (a refusal states its reason)."],
  noEscalated: ["暂无提级申请。", "No escalated requests."],
  administrators: ["目录管理员", "Directory administrators"],
  administrator: ["管理员", "administrator"],
  noDepartment: ["当前令牌不代表任何部门（目录管理员令牌），只能处理提级申请。", "This token acts for no department (a directory administrator's): it answers escalated requests only."],
  requestId: ["申请编号", "Request"],
  requester: ["申请方", "Requester"],
  state: ["状态", "State"],
  terms: ["共享条件（可选）", "Terms (optional)"],
  reason: ["理由", "Reason"],
  refuseReason: ["不予共享的理由（必填）", "Reason for refusing (required)"],
  approve: ["同意", "Approve"],
  refuse: ["拒绝", "Refuse"],
  cancel: ["撤回申请", "Cancel"],
  requestHistory: ["处理记录", "History of the request"],
  withdraw: ["撤销资源", "Withdraw"],
  withdrawReason: ["撤销理由（必填）", "Reason for withdrawing (required)"],
  escalate: ["提请管理员处理", "Escalate"],
  revoke: ["撤销授权", "Revoke"],
  revokeReason: ["撤销理由（必填）", "Reason for revoking (required)"],
  records: ["使用记录数", "Records used"],
  recordUsage: ["登记使用", "Record usage"],
  receipts: ["使用回执", "Usage receipts"],
  answerBy: ["答复期限", "Answer by"],
  signInFirst: ["请先登录。", "Sign in first."],
  loading: ["加载中…", "Loading…"],
  register_done: ["资源已注册：{0}", "Registered: {0}"],
  // Values.
  sharing_unconditional: ["无条件共享", "Unconditional"],
  sharing_conditional: ["有条件共享", "Conditional"],
  sharing_not_shared: ["不予共享", "Not shared"],
  openness_open: ["无条件开放", "Open"],
  openness_conditional: ["有条件开放", "Conditional"],
  openness_not_open: ["不予开放", "Not open"],
  cycle_real_time: ["实时", "Real time"],
  cycle_daily: ["每日", "Daily"],
  cycle_weekly: ["每周", "Weekly"],
  cycle_monthly: ["每月", "Monthly"],
  cycle_quarterly: ["每季度", "Quarterly"],
  cycle_yearly: ["每年", "Yearly"],
  cycle_irregular: ["不定期", "Irregular"],
  format_database: ["数据库", "Database"],
  format_file: ["文件", "File"],
  format_api: ["接口", "API"],
  format_other: ["其他", "Other"],
  status_active: ["有效", "Active"],
  status_withdrawn: ["已撤销", "Withdrawn"],
  state_pending: ["待答复", "Pending"],
  state_approved: ["已同意", "Approved"],
  state_conditionally_approved: ["有条件同意", "Approved on terms"],
  state_refused: ["已拒绝", "Refused"],
  state_revoked: ["已撤销", "Revoked"],
  state_cancelled: ["已撤回", "Cancelled"],
  state_escalated: ["已提级", "Escalated"],
  // Errors, by the API's type.
  error_bad_request: ["输入有误", "The input is not valid"],
  error_unauthorized: ["令牌无效或未登录", "The API token is missing or not valid"],
  error_forbidden: ["无权执行此操作", "You are not allowed to do this"],
  error_not_found: ["未找到", "Not found"],
  error_conflict: ["当前状态不允许此操作", "The current state does not allow this"],
  error_refused: ["链上合约拒绝了此操作", "The directory contract refused this"],
  error_unavailable: ["服务暂不可用，请稍后重试", "The service is unavailable; try again shortly"],
  error_invalid: ["提交的内容未通过校验", "What was submitted is not valid"],
  error_network: ["无法连接服务", "The service cannot be reached"],
  error_malformed: ["服务返回的内容无法识别", "The service's answer cannot be read"],
  errorDetail: ["服务返回：", "The service said: "],
};

let language = LANGUAGES.includes(localStorage.getItem(STORAGE_KEY)) ? localStorage.getItem(STORAGE_KEY) : "zh";

export function currentLanguage() {
  return language;
}

export function setLanguage(value) {
  language = LANGUAGES.includes(value) ? value : "zh";
  localStorage.setItem(STORAGE_KEY, language);
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
}

// The label `key` in the current language, with {0}, {1}… replaced by `values` (as text).
export function t(key, ...values) {
  const pair = TEXTS[key];
  let text = pair ? pair[language === "zh" ? 0 : 1] : key;
  values.forEach((value, position) => {
    text = text.replace(`{${position}}`, String(value));
  });
  return text;
}

// A value's label (`prefix_value`), or the value itself when there is none.
export function label(prefix, value) {
  const key = `${prefix}_${value}`;
  return key in TEXTS ? t(key) : String(value ?? "");
}

// A bilingual record's name: `name_en` in English when it has one.
export function localName(record) {
  if (!record) return "";
  return language === "en" && record.name_en ? record.name_en : record.name;
}

setLanguage(language);
