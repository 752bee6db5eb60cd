"""A realistic generated catalogue for the directory's demo and benchmark: a classification
scheme in the shape GB/T 21063 and the national compilation guide give (基础信息资源, 主题信息资源,
部门信息资源, each with items and sub-items), a city's departments (Beijing's municipal
commissions and bureaus, with their duties) and the districts' own, and resources with data
items, sharing terms, update cycles, formats and distributions whose hashes are real.

Everything is drawn from ``random.Random(seed)``: the same seed gives the same catalogue, so a
benchmark and a demo can be rebuilt. Pure: nothing here touches a chain; the demo and the bench
turn these messages into transactions.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from causeway.apps.directory.v1 import directory_pb2
from causeway.crypto import get_profile

# (code, name, English name, duties) of city departments: the first 40 are Beijing's municipal
# departments (code: the pinyin initials the city's own systems use); more are numbered.
CITY_DEPARTMENTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "FGW",
        "市发展和改革委员会",
        "Development and Reform Commission",
        ("价格监管", "项目审批", "能源运行"),
    ),
    ("JW", "市教育委员会", "Education Commission", ("学校管理", "招生考试", "学籍管理")),
    (
        "KW",
        "市科学技术委员会",
        "Science and Technology Commission",
        ("科技项目", "高新技术企业认定"),
    ),
    (
        "JXJ",
        "市经济和信息化局",
        "Economy and Information Technology Bureau",
        ("工业运行", "信息化建设"),
    ),
    ("GA", "市公安局", "Public Security Bureau", ("户籍管理", "出入境管理", "交通管理")),
    ("MZ", "市民政局", "Civil Affairs Bureau", ("婚姻登记", "社会救助", "社会组织管理")),
    ("SFJ", "市司法局", "Justice Bureau", ("法律援助", "公证管理", "律师管理")),
    ("CZ", "市财政局", "Finance Bureau", ("预算管理", "政府采购", "非税收入")),
    (
        "RSJ",
        "市人力资源和社会保障局",
        "Human Resources and Social Security Bureau",
        ("社会保险", "就业服务", "劳动关系"),
    ),
    (
        "GHZRW",
        "市规划和自然资源委员会",
        "Planning and Natural Resources Commission",
        ("不动产登记", "土地管理", "城乡规划"),
    ),
    (
        "STHJ",
        "市生态环境局",
        "Ecology and Environment Bureau",
        ("环境监测", "排污许可", "环境执法"),
    ),
    (
        "ZJW",
        "市住房和城乡建设委员会",
        "Housing and Urban-Rural Development Commission",
        ("房屋交易", "工程建设", "住房保障"),
    ),
    ("CGW", "市城市管理委员会", "City Management Commission", ("市容环境", "垃圾分类", "燃气供热")),
    ("JTW", "市交通委员会", "Transport Commission", ("公共交通", "道路运输", "出租汽车")),
    ("SWJ", "市水务局", "Water Authority", ("水资源管理", "防汛", "供水排水")),
    (
        "NYNCJ",
        "市农业农村局",
        "Agriculture and Rural Affairs Bureau",
        ("农产品质量", "农村经营管理"),
    ),
    ("SWUJ", "市商务局", "Commerce Bureau", ("对外贸易", "商贸流通", "外商投资")),
    (
        "WHLYJ",
        "市文化和旅游局",
        "Culture and Tourism Bureau",
        ("旅行社管理", "文化市场", "公共文化服务"),
    ),
    ("WJW", "市卫生健康委员会", "Health Commission", ("医疗机构管理", "疾病预防控制", "妇幼健康")),
    ("TYJRJ", "市退役军人事务局", "Veterans Affairs Bureau", ("优抚安置", "退役军人服务")),
    ("YJJ", "市应急管理局", "Emergency Management Bureau", ("安全生产", "应急救援", "防灾减灾")),
    (
        "SCJGJ",
        "市市场监督管理局",
        "Market Regulation Administration",
        ("企业登记", "食品安全", "质量监督"),
    ),
    ("TJJ", "市统计局", "Statistics Bureau", ("统计调查", "统计数据发布")),
    (
        "YBJ",
        "市医疗保障局",
        "Healthcare Security Administration",
        ("医保参保", "医保结算", "药品招采"),
    ),
    ("YLLHJ", "市园林绿化局", "Landscape and Forestry Bureau", ("公园管理", "林业资源")),
    (
        "ZWFWJ",
        "市政务服务管理局",
        "Government Services Administration",
        ("政务服务", "一网通办", "12345热线"),
    ),
    ("TYJ", "市体育局", "Sports Bureau", ("体育场馆", "全民健身")),
    ("SJJ", "市审计局", "Audit Office", ("财政审计", "经济责任审计")),
    ("SWJU", "市税务局", "Taxation Bureau", ("税收征管", "纳税服务", "发票管理")),
    ("QXJ", "市气象局", "Meteorological Service", ("天气预报", "气象灾害预警")),
    (
        "MZZJW",
        "市民族宗教事务委员会",
        "Ethnic and Religious Affairs Commission",
        ("宗教事务", "民族工作"),
    ),
    (
        "GZW",
        "市国有资产监督管理委员会",
        "State-owned Assets Commission",
        ("国有企业监管", "产权管理"),
    ),
    ("GDJ", "市广播电视局", "Radio and Television Bureau", ("广播电视监管", "网络视听")),
    ("WWJ", "市文物局", "Cultural Heritage Bureau", ("文物保护", "博物馆管理")),
    ("ZSCQJ", "市知识产权局", "Intellectual Property Office", ("专利管理", "知识产权保护")),
    (
        "JRJ",
        "市地方金融监督管理局",
        "Local Financial Regulation Bureau",
        ("地方金融监管", "融资担保"),
    ),
    ("LSJ", "市粮食和物资储备局", "Grain and Material Reserves Bureau", ("粮食储备", "物资储备")),
    ("RFB", "市人民防空办公室", "Civil Air Defence Office", ("人防工程", "防空警报")),
    ("XFZD", "市消防救援总队", "Fire and Rescue Corps", ("消防监督", "火灾扑救")),
    (
        "GJJZX",
        "市住房公积金管理中心",
        "Housing Provident Fund Centre",
        ("公积金缴存", "公积金贷款"),
    ),
)

# Beijing's 16 districts: (code, name, English name).
DISTRICTS: tuple[tuple[str, str, str], ...] = (
    ("DC", "东城区", "Dongcheng"),
    ("XC", "西城区", "Xicheng"),
    ("CY", "朝阳区", "Chaoyang"),
    ("HD", "海淀区", "Haidian"),
    ("FT", "丰台区", "Fengtai"),
    ("SJS", "石景山区", "Shijingshan"),
    ("MTG", "门头沟区", "Mentougou"),
    ("FS", "房山区", "Fangshan"),
    ("TZ", "通州区", "Tongzhou"),
    ("SY", "顺义区", "Shunyi"),
    ("CP", "昌平区", "Changping"),
    ("DX", "大兴区", "Daxing"),
    ("HR", "怀柔区", "Huairou"),
    ("PG", "平谷区", "Pinggu"),
    ("MY", "密云区", "Miyun"),
    ("YQ", "延庆区", "Yanqing"),
)

# The classification scheme: (code, name, English name); the level and parent follow from the
# code (one or two digits a category, two more an item, two more a sub-item).
SCHEME: tuple[tuple[str, str, str], ...] = (
    ("1", "基础信息资源", "Base information"),
    ("101", "人口基础信息", "Population"),
    ("10101", "户籍人口", "Registered residents"),
    ("10102", "流动人口", "Migrant population"),
    ("102", "法人单位基础信息", "Legal entities"),
    ("10201", "企业法人", "Enterprises"),
    ("10202", "社会组织", "Social organisations"),
    ("103", "自然资源和空间地理基础信息", "Natural resources and geography"),
    ("104", "电子证照基础信息", "Electronic licences"),
    ("105", "社会信用基础信息", "Social credit"),
    ("2", "主题信息资源", "Thematic information"),
    ("201", "医疗健康", "Health"),
    ("202", "社会保障", "Social security"),
    ("203", "食品药品安全", "Food and drug safety"),
    ("204", "安全生产", "Work safety"),
    ("205", "价格监管", "Price regulation"),
    ("206", "城乡建设", "Urban and rural construction"),
    ("207", "生态环保", "Ecology and environment"),
    ("208", "交通出行", "Transport"),
    ("209", "教育文化", "Education and culture"),
    ("3", "部门信息资源", "Departmental information"),
    ("301", "行政许可", "Administrative licensing"),
    ("302", "行政处罚", "Administrative penalties"),
    ("303", "公共服务", "Public services"),
    ("304", "统计数据", "Statistics"),
    ("305", "监管检查", "Inspections"),
)

# Topics: (name stem, English stem, data items as (name, type, description)).
TOPICS: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "基本信息",
        "basic information",
        (
            ("名称", "string", "名称"),
            ("统一编码", "string", "编码"),
            ("登记日期", "date", "登记日期"),
        ),
    ),
    (
        "人员信息",
        "personnel",
        (
            ("姓名", "string", "姓名"),
            ("公民身份号码", "string", "18位身份号码"),
            ("性别", "string", "性别代码"),
            ("出生日期", "date", "出生日期"),
        ),
    ),
    (
        "企业登记信息",
        "company registrations",
        (
            ("统一社会信用代码", "string", "18位代码"),
            ("企业名称", "string", "名称"),
            ("法定代表人", "string", "姓名"),
            ("注册资本", "decimal", "万元"),
            ("成立日期", "date", "成立日期"),
        ),
    ),
    (
        "许可信息",
        "licences",
        (
            ("许可证号", "string", "证号"),
            ("许可事项", "string", "事项名称"),
            ("有效期至", "date", "截止日期"),
            ("发证机关", "string", "机关名称"),
        ),
    ),
    (
        "处罚信息",
        "penalties",
        (
            ("行政相对人", "string", "名称"),
            ("处罚决定书文号", "string", "文号"),
            ("处罚类别", "string", "类别"),
            ("罚款金额", "decimal", "元"),
            ("处罚日期", "date", "日期"),
        ),
    ),
    (
        "统计数据",
        "statistics",
        (
            ("指标名称", "string", "指标"),
            ("统计期", "string", "年月"),
            ("数值", "decimal", "数值"),
            ("计量单位", "string", "单位"),
        ),
    ),
    (
        "检查记录",
        "inspection records",
        (
            ("检查对象", "string", "名称"),
            ("检查日期", "date", "日期"),
            ("检查结果", "string", "结果"),
            ("整改期限", "date", "期限"),
        ),
    ),
    (
        "服务事项",
        "service items",
        (
            ("事项名称", "string", "名称"),
            ("办理时限", "integer", "工作日"),
            ("办理地点", "string", "地址"),
            ("是否网办", "boolean", "是否可在线办理"),
        ),
    ),
    (
        "设施信息",
        "facilities",
        (
            ("设施名称", "string", "名称"),
            ("地址", "string", "地址"),
            ("经度", "decimal", "WGS-84"),
            ("纬度", "decimal", "WGS-84"),
        ),
    ),
    (
        "监测数据",
        "monitoring data",
        (
            ("监测点", "string", "名称"),
            ("监测时间", "datetime", "时间"),
            ("监测项目", "string", "项目"),
            ("监测值", "decimal", "数值"),
        ),
    ),
)
ITEM_CODES = tuple(code for code, _, _ in SCHEME if len(code) >= 3)
FORMATS = (("database", "API"), ("file", "CSV"), ("file", "XLSX"), ("api", "API"), ("file", "JSON"))
UPDATE_CYCLES = (
    directory_pb2.UPDATE_CYCLE_REAL_TIME,
    directory_pb2.UPDATE_CYCLE_DAILY,
    directory_pb2.UPDATE_CYCLE_WEEKLY,
    directory_pb2.UPDATE_CYCLE_MONTHLY,
    directory_pb2.UPDATE_CYCLE_QUARTERLY,
    directory_pb2.UPDATE_CYCLE_YEARLY,
    directory_pb2.UPDATE_CYCLE_IRREGULAR,
)
# Chinese text takes the full-width comma (which ruff would flag as ambiguous in a literal).
COMMA = "\uff0c"
FIRST_PUBLISH_DATE = datetime.date(2019, 1, 1)
PUBLISH_DAYS = 2_900


def categories() -> list[directory_pb2.Category]:
    """The scheme, parents before children: a code of one or two digits is a category (level 1);
    each level below adds two digits to its parent's code."""
    levels: dict[str, int] = {}
    scheme = []
    for code, name, name_en in SCHEME:
        parent = "" if len(code) <= 2 else code[:-2]
        levels[code] = 1 if not parent else levels[parent] + 1
        scheme.append(
            directory_pb2.Category(
                code=code, name=name, name_en=name_en, level=levels[code], parent_code=parent
            )
        )
    return scheme


def city_departments(count: int = len(CITY_DEPARTMENTS)) -> list[directory_pb2.Department]:
    """``count`` city departments: Beijing's 40, then numbered ones (D041, ...) if more."""
    departments = []
    for number in range(count):
        if number < len(CITY_DEPARTMENTS):
            code, name, name_en, duties = CITY_DEPARTMENTS[number]
        else:
            code, name, name_en = (
                f"D{number + 1:03d}",
                f"市直属单位{number + 1}",
                f"Agency {number + 1}",
            )
            duties = ("业务管理", "公共服务")
        departments.append(
            directory_pb2.Department(
                code=code,
                organisation=code.lower(),
                name=name,
                name_en=name_en,
                duties=list(duties),
            )
        )
    return departments


def district_departments(district: str, count: int) -> list[directory_pb2.Department]:
    """A district's departments: its counterparts of the first ``count`` city departments
    (code: the district's code and the city department's, e.g. HDGA)."""
    codes = {code: (name, name_en) for code, name, name_en in DISTRICTS}
    district_name, district_en = codes[district]
    departments = []
    for code, name, name_en, duties in CITY_DEPARTMENTS[:count]:
        local = name.removeprefix("市")
        departments.append(
            directory_pb2.Department(
                code=district + code,
                organisation=(district + code).lower(),
                name=district_name + local,
                name_en=f"{district_en} {name_en}",
                district=district,
                duties=list(duties),
            )
        )
    return departments


def distribution_content(department_code: str, number: int, topic_en: str) -> bytes:
    """The generated file a resource's distribution stands for (its hash is this content's)."""
    return f"{department_code}/{number}/{topic_en}".encode()


@dataclass(frozen=True, slots=True)
class GeneratedResource:
    department: directory_pb2.Department
    metadata: directory_pb2.ResourceMetadata


def _metadata(
    draw: random.Random,
    department: directory_pb2.Department,
    number: int,
    hash_file: Callable[[bytes], bytes],
    hash_algorithm: str,
) -> directory_pb2.ResourceMetadata:
    stem, stem_en, items = draw.choice(TOPICS)
    category = draw.choice(ITEM_CODES)
    duty = draw.choice(list(department.duties)) if department.duties else ""
    name = f"{department.name}{duty}{stem}"
    kind, file_format = draw.choice(FORMATS)
    roll = draw.random()
    sharing = (
        directory_pb2.SHARING_TYPE_UNCONDITIONAL
        if roll < 0.6
        else directory_pb2.SHARING_TYPE_CONDITIONAL
        if roll < 0.95
        else directory_pb2.SHARING_TYPE_NOT_SHARED
    )
    conditions = {
        directory_pb2.SHARING_TYPE_UNCONDITIONAL: "",
        directory_pb2.SHARING_TYPE_CONDITIONAL: f"仅限履行法定职责使用{COMMA}不得向第三方提供",
        directory_pb2.SHARING_TYPE_NOT_SHARED: "依据《中华人民共和国个人信息保护法》不予共享",
    }[sharing]
    published = FIRST_PUBLISH_DATE + datetime.timedelta(days=draw.randrange(PUBLISH_DAYS))
    content = distribution_content(department.code, number, stem_en)
    return directory_pb2.ResourceMetadata(
        category_code=category,
        name=name,
        name_en=f"{department.name_en}: {stem_en}",
        abstract=(
            f"{department.name}在履行{duty or '职责'}过程中产生的{stem}{COMMA}"
            f"按{file_format}格式提供。"
        ),
        format=kind,
        data_items=[
            directory_pb2.DataItem(name=item, type=kind_name, description=description)
            for item, kind_name, description in items
        ],
        sharing_type=sharing,
        sharing_conditions=conditions,
        sharing_method="接口调用" if kind in ("database", "api") else "文件下载",
        openness=directory_pb2.OPENNESS_NOT_OPEN
        if sharing == directory_pb2.SHARING_TYPE_NOT_SHARED
        else draw.choice((directory_pb2.OPENNESS_OPEN, directory_pb2.OPENNESS_CONDITIONAL)),
        update_cycle=draw.choice(UPDATE_CYCLES),
        publish_date=published.isoformat(),
        duties=[duty] if duty else [],
        keywords=[stem, duty] if duty else [stem],
        distributions=[
            directory_pb2.Distribution(
                name=f"{stem}.{file_format.lower()}",
                format=file_format,
                access_url=f"https://data.example.gov.cn/{department.code.lower()}/{number}",
                hash=hash_file(content),
                hash_algorithm=hash_algorithm,
                byte_size=len(content),
            )
        ],
    )


def resources(
    departments: list[directory_pb2.Department],
    count: int,
    *,
    seed: int = 0,
    hash_algorithm: str = "SHA-256",
) -> Iterator[GeneratedResource]:
    """``count`` resources spread over ``departments`` in turn, drawn from ``seed``; each
    distribution's hash is the named algorithm's (SM3 on gm chains) of its generated content."""
    profiles = {"SM3": "gm", "SHA-256": "intl"}
    if hash_algorithm not in profiles:
        raise ValueError(f"hash algorithm {hash_algorithm!r} is neither SHA-256 nor SM3")
    # The profile's hash: what the chain itself hashes with (SM3 on gm chains).
    hash_file = get_profile(profiles[hash_algorithm]).hash
    if not departments:
        raise ValueError("resources need at least one department")
    draw = random.Random(seed)
    for number in range(count):
        department = departments[number % len(departments)]
        yield GeneratedResource(
            department, _metadata(draw, department, number, hash_file, hash_algorithm)
        )
