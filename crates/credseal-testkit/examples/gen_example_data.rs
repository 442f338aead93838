//! Generates the synthetic demo records of `keys-example/records.jsonl`.
//!
//! ```text
//! cargo run -q -p credseal-testkit --example gen_example_data -- keys-example/catalog.toml > keys-example/records.jsonl
//! ```
//!
//! Every person, organisation, name, address, loan and judgment in the output is invented.
//! The output is deterministic (a fixed-seed splitmix64, no clock, no hash-map iteration):
//! CI regenerates the file and diffs it. The example is also its own test: every line it
//! prints is parsed back and checked with [`Record::from_json`] against the catalogue, and
//! the run panics on the first line that fails. A one-line summary goes to stderr.
//!
//! Shape of the data: 40 persons and 20 organisations (enterprises, public institutions,
//! social organisations). Every subject has an `identity` record and one to four others.
//! Most persons have only clean loans and cards; some pay late; a few default and are
//! sued. Some enterprises have judgments, penalties and safety violations. A few records
//! are corrected: version 2, `"supersedes": 1`, appended after all first versions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;

use credseal_core::{Catalog, Date, Record, SubjectId, SubjectKind};
use serde_json::Value;

/// "credseal" in ASCII: the fixed seed of every run.
const SEED: u64 = 0x6372_6564_7365_616c;
const PERSONS: usize = 40;
const ORGANISATIONS: usize = 20;
/// Latest effective date of any record (the data is "as of" this date).
const LAST_DAY: (u16, u8, u8) = (2026, 10, 31);
/// About every 17th non-identity record (and the 5th identity record) gets a correction.
const CORRECT_EVERY: usize = 17;

// ---------------------------------------------------------------- randomness

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant for demo data).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i as u64 + 1) as usize);
        }
    }

    /// A date uniformly between `a` and `b` inclusive.
    fn date(&mut self, a: Date, b: Date) -> Date {
        let d = self.range(a.days_since_epoch(), b.days_since_epoch());
        Date::from_days_since_epoch(d).expect("in range")
    }

    /// An amount in fen between `lo` and `hi` yuan, a multiple of `step` yuan.
    fn yuan(&mut self, lo: i64, hi: i64, step: i64) -> i64 {
        self.range(lo / step, hi / step) * step * 100
    }

    /// An amount in fen between `lo` and `hi` yuan, with arbitrary fen.
    fn fen(&mut self, lo: i64, hi: i64) -> i64 {
        self.range(lo * 100, hi * 100)
    }
}

// ---------------------------------------------------------------- dates and values

fn ymd(y: i32, m: u32, d: u32) -> Date {
    Date::new(y as u16, m as u8, d as u8).expect("valid date")
}

fn last_day() -> Date {
    ymd(i32::from(LAST_DAY.0), u32::from(LAST_DAY.1), u32::from(LAST_DAY.2))
}

fn year(d: Date) -> i32 {
    i32::from(d.ymd().0)
}

fn month_end(y: i32, m: u32) -> Date {
    let next = if m == 12 { ymd(y + 1, 1, 1) } else { ymd(y, m + 1, 1) };
    Date::from_days_since_epoch(next.days_since_epoch() - 1).expect("in range")
}

fn add_days(d: Date, n: i64) -> Date {
    Date::from_days_since_epoch(d.days_since_epoch() + n).expect("in range")
}

fn add_years(d: Date, n: i32) -> Date {
    let (y, m, dd) = d.ymd();
    let y = i32::from(y) + n;
    Date::new(y as u16, m, dd).unwrap_or_else(|| ymd(y, u32::from(m), 28))
}

/// A random month-end between January 2025 and the last day: a bank's reporting date.
fn reporting_date(rng: &mut Rng) -> Date {
    let months = rng.range(0, 21); // 2025-01 ..= 2026-10
    month_end(2025 + (months / 12) as i32, (months % 12) as u32 + 1)
}

fn amount(fen: i64) -> Value {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    Value::String(format!("{sign}{}.{:02}", a / 100, a % 100))
}

fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn date(d: Date) -> Value {
    Value::String(d.to_string())
}

fn period(d: Date) -> String {
    let (y, m, _) = d.ymd();
    format!("{y:04}-{m:02}")
}

// ---------------------------------------------------------------- places and names

struct Region {
    code: &'static str,
    /// Empty for the municipalities directly under the central government.
    province: &'static str,
    city: &'static str,
    district: &'static str,
    /// One-character provincial abbreviation used in case and licence numbers.
    abbr: &'static str,
    prov_py: &'static str,
    city_py: &'static str,
    city_short: &'static str,
    district_py: &'static str,
    streets: [&'static str; 3],
}

#[rustfmt::skip]
const REGIONS: &[Region] = &[
    Region { code: "110105", province: "", city: "北京市", district: "朝阳区", abbr: "京", prov_py: "beijing", city_py: "beijing", city_short: "bj", district_py: "chaoyang", streets: ["建国路", "朝阳北路", "望京街"] },
    Region { code: "110108", province: "", city: "北京市", district: "海淀区", abbr: "京", prov_py: "beijing", city_py: "beijing", city_short: "bj", district_py: "haidian", streets: ["中关村大街", "学院路", "知春路"] },
    Region { code: "310104", province: "", city: "上海市", district: "徐汇区", abbr: "沪", prov_py: "shanghai", city_py: "shanghai", city_short: "sh", district_py: "xuhui", streets: ["漕溪北路", "肇嘉浜路", "虹桥路"] },
    Region { code: "310115", province: "", city: "上海市", district: "浦东新区", abbr: "沪", prov_py: "shanghai", city_py: "shanghai", city_short: "sh", district_py: "pudong", streets: ["世纪大道", "张江路", "锦绣路"] },
    Region { code: "440305", province: "广东省", city: "深圳市", district: "南山区", abbr: "粤", prov_py: "guangdong", city_py: "shenzhen", city_short: "sz", district_py: "nanshan", streets: ["科技园南路", "南海大道", "望海路"] },
    Region { code: "440106", province: "广东省", city: "广州市", district: "天河区", abbr: "粤", prov_py: "guangdong", city_py: "guangzhou", city_short: "gz", district_py: "tianhe", streets: ["天河路", "体育东路", "华夏路"] },
    Region { code: "510107", province: "四川省", city: "成都市", district: "武侯区", abbr: "川", prov_py: "sichuan", city_py: "chengdu", city_short: "cd", district_py: "wuhou", streets: ["人民南路四段", "科华北路", "武侯祠大街"] },
    Region { code: "330106", province: "浙江省", city: "杭州市", district: "西湖区", abbr: "浙", prov_py: "zhejiang", city_py: "hangzhou", city_short: "hz", district_py: "xihu", streets: ["文三路", "天目山路", "西溪路"] },
    Region { code: "330102", province: "浙江省", city: "杭州市", district: "上城区", abbr: "浙", prov_py: "zhejiang", city_py: "hangzhou", city_short: "hz", district_py: "shangcheng", streets: ["解放路", "延安路", "望江东路"] },
    Region { code: "320102", province: "江苏省", city: "南京市", district: "玄武区", abbr: "苏", prov_py: "jiangsu", city_py: "nanjing", city_short: "nj", district_py: "xuanwu", streets: ["中山路", "珠江路", "北京东路"] },
    Region { code: "420106", province: "湖北省", city: "武汉市", district: "武昌区", abbr: "鄂", prov_py: "hubei", city_py: "wuhan", city_short: "wh", district_py: "wuchang", streets: ["中南路", "中北路", "武珞路"] },
    Region { code: "610113", province: "陕西省", city: "西安市", district: "雁塔区", abbr: "陕", prov_py: "shaanxi", city_py: "xian", city_short: "xa", district_py: "yanta", streets: ["长安南路", "小寨东路", "科技路"] },
];

impl Region {
    fn municipality(&self) -> bool {
        self.province.is_empty()
    }

    /// The provincial-level name: the province, or the municipality itself.
    fn prov(&self) -> &'static str {
        if self.municipality() { self.city } else { self.province }
    }

    /// "杭州" for "杭州市".
    fn city_name(&self) -> &'static str {
        self.city.trim_end_matches('市')
    }

    /// "西湖" for "西湖区", "浦东" for "浦东新区".
    fn district_name(&self) -> &'static str {
        self.district
            .strip_suffix("新区")
            .or_else(|| self.district.strip_suffix('区'))
            .unwrap_or(self.district)
    }

    fn address(&self, rng: &mut Rng, home: bool) -> String {
        let street = rng.pick(&self.streets);
        let no = rng.range(1, 399);
        let mut s = format!("{}{}{}{street}{no}号", self.province, self.city, self.district);
        if home {
            let _ = write!(
                s,
                "{}幢{}室",
                rng.range(1, 24),
                rng.range(1, 28) * 100 + rng.range(1, 6)
            );
        } else if rng.chance(50) {
            let _ = write!(s, "{}楼", rng.range(2, 30));
        }
        s
    }

    /// Replaces `{Y}` (year), `{A}` (provincial abbreviation), `{R}` (region code), `{R4}`
    /// (its last four digits), `{C}` (city initial, or the abbreviation of a municipality),
    /// `{D}` (district initial), then each
    /// `#` with a random digit and each `@` with a random non-zero digit.
    fn fill(&self, template: &str, y: i32, rng: &mut Rng) -> String {
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        let s = template
            .replace("{Y}", &y.to_string())
            .replace("{A}", self.abbr)
            .replace("{R4}", &self.code[2..])
            .replace("{R}", self.code)
            .replace(
                "{C}",
                &if self.municipality() {
                    self.abbr.to_string()
                } else {
                    first(self.city)
                },
            )
            .replace("{D}", &first(self.district));
        s.chars()
            .map(|c| match c {
                '#' => char::from(b'0' + rng.below(10) as u8),
                '@' => char::from(b'1' + rng.below(9) as u8),
                c => c,
            })
            .collect()
    }
}

/// A government body, named after the region it belongs to.
#[derive(Clone, Copy)]
enum Auth {
    DistrictSamr,
    CitySamr,
    ProvSamr,
    ProvDrug,
    ProvHousing,
    ProvComm,
    CityTransport,
    ProvEmergency,
    CityEmergency,
    CityCommerce,
    CityHealth,
    ProvJustice,
    DistrictTax,
    ProvTax,
    CityEcology,
    DistrictPolice,
    DistrictEducation,
    CityHrss,
    CityCivilAffairs,
    CityEstablishment,
    ProvGov,
    ProvCivilisation,
    CityCivilisation,
    CityYouthLeague,
    Acftu,
    Mca,
    DistrictCourt,
}

impl Auth {
    /// The body's name and its department id (the record `source`).
    fn of(self, r: &Region) -> (String, String) {
        let (city, district, prov) = (r.city, r.district, r.prov());
        let (cpy, ppy) = (r.city_py, r.prov_py);
        let ting = |name: &str| {
            if r.municipality() {
                format!("{city}{name}局")
            } else {
                format!("{prov}{name}厅")
            }
        };
        match self {
            Self::DistrictSamr => (format!("{city}{district}市场监督管理局"), format!("samr-{cpy}")),
            Self::CitySamr => (format!("{city}市场监督管理局"), format!("samr-{cpy}")),
            Self::ProvSamr => (format!("{prov}市场监督管理局"), format!("samr-{ppy}")),
            Self::ProvDrug => (format!("{prov}药品监督管理局"), format!("nmpa-{ppy}")),
            Self::ProvHousing if r.municipality() => (format!("{city}住房和城乡建设委员会"), format!("mohurd-{ppy}")),
            Self::ProvHousing => (format!("{prov}住房和城乡建设厅"), format!("mohurd-{ppy}")),
            Self::ProvComm => (format!("{prov}通信管理局"), format!("miit-{ppy}")),
            Self::CityTransport => (format!("{city}交通运输局"), format!("mot-{cpy}")),
            Self::ProvEmergency => (ting("应急管理"), format!("mem-{ppy}")),
            Self::CityEmergency => (format!("{city}应急管理局"), format!("mem-{cpy}")),
            Self::CityCommerce => (format!("{city}商务局"), format!("mofcom-{cpy}")),
            Self::CityHealth => (format!("{city}卫生健康委员会"), format!("nhc-{cpy}")),
            Self::ProvJustice => (ting("司法"), format!("moj-{ppy}")),
            Self::DistrictTax => (format!("国家税务总局{city}{district}税务局"), format!("sat-{ppy}")),
            Self::ProvTax => (format!("国家税务总局{prov}税务局"), format!("sat-{ppy}")),
            Self::CityEcology => (format!("{city}生态环境局"), format!("mee-{cpy}")),
            Self::DistrictPolice => (format!("{city}公安局{district}分局"), format!("psb-{cpy}")),
            Self::DistrictEducation => (format!("{city}{district}教育局"), format!("moe-{cpy}")),
            Self::CityHrss => (format!("{city}人力资源和社会保障局"), format!("mohrss-{cpy}")),
            Self::CityCivilAffairs => (format!("{city}民政局"), format!("mca-{cpy}")),
            Self::CityEstablishment => (format!("中共{city}委机构编制委员会办公室"), format!("bianban-{cpy}")),
            Self::ProvGov => (format!("{prov}人民政府"), format!("gov-{ppy}")),
            Self::ProvCivilisation => (format!("{prov}精神文明建设委员会"), format!("wenming-{ppy}")),
            Self::CityCivilisation => (format!("{city}精神文明建设委员会"), format!("wenming-{cpy}")),
            Self::CityYouthLeague => (format!("共青团{city}委员会"), format!("cyl-{cpy}")),
            Self::Acftu => ("中华全国总工会".into(), "acftu".into()),
            Self::Mca => ("中华人民共和国民政部".into(), "mca".into()),
            Self::DistrictCourt => (
                format!("{city}{district}人民法院"),
                format!("court-{}-{}", r.city_short, r.district_py),
            ),
        }
    }
}

struct Bank {
    code: &'static str,
    name: &'static str,
    /// Card BIN (first six digits of the card number).
    bin: &'static str,
}

const BANKS: &[Bank] = &[
    Bank {
        code: "icbc",
        name: "中国工商银行",
        bin: "622202",
    },
    Bank {
        code: "ccb",
        name: "中国建设银行",
        bin: "436742",
    },
    Bank {
        code: "abc",
        name: "中国农业银行",
        bin: "622848",
    },
    Bank {
        code: "boc",
        name: "中国银行",
        bin: "621661",
    },
    Bank {
        code: "bocom",
        name: "交通银行",
        bin: "622262",
    },
    Bank {
        code: "cmb",
        name: "招商银行",
        bin: "622588",
    },
];

impl Bank {
    /// The branch name and the department id, e.g. "中国工商银行杭州西湖支行", "icbc-hangzhou".
    fn branch(&self, r: &Region) -> (String, String) {
        (
            format!("{}{}{}支行", self.name, r.city_name(), r.district_name()),
            format!("{}-{}", self.code, r.city_py),
        )
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "田", "董", "潘", "袁", "蔡", "蒋",
    "余", "欧阳", "上官",
];
const MALE_NAMES: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "斌", "志强", "建华", "建国", "国强", "海涛", "俊杰", "浩然",
    "子轩", "宇航", "文博", "振华", "家豪", "晨阳", "立新",
];
const FEMALE_NAMES: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "霞", "秀英", "桂英", "玉兰", "丽娟", "婷婷", "雪梅", "晓燕", "欣怡", "梓涵",
    "诗琪", "雨桐", "佳怡", "慧敏", "思彤",
];
const BRANDS: &[&str] = &[
    "明远", "华信", "恒通", "鼎盛", "瑞丰", "宏达", "天禾", "金桥", "海纳", "博雅", "启航", "远景", "德润", "锦程",
    "卓越", "万象", "安泰", "嘉禾", "新源", "同创", "永信", "正阳",
];

fn person_name(rng: &mut Rng, male: bool) -> String {
    let given = if male {
        rng.pick(MALE_NAMES)
    } else {
        rng.pick(FEMALE_NAMES)
    };
    format!("{}{given}", rng.pick(SURNAMES))
}

/// An enterprise line of business: its licence and the violations it may commit.
struct Industry {
    name: &'static str,
    licence: Option<LicenceSpec>,
    safety: Option<SafetySpec>,
}

struct LicenceSpec {
    ty: &'static str,
    auth: Auth,
    /// Number template, see [`Region::fill`].
    number: &'static str,
    scope: Option<&'static str>,
    /// Validity in years; `None` for licences that do not expire.
    years: Option<i32>,
}

struct SafetySpec {
    category: &'static str,
    auth: Auth,
    description: &'static str,
}

#[rustfmt::skip]
const INDUSTRIES: &[Industry] = &[
    Industry { name: "机械制造", licence: Some(LicenceSpec { ty: "工业产品生产许可证", auth: Auth::ProvSamr, number: "({A})XK06-0##-@####", scope: Some("起重机械零部件、建筑用钢筋加工设备"), years: Some(5) }), safety: Some(SafetySpec { category: "production-safety", auth: Auth::CityEmergency, description: "冲压车间设备安全防护装置缺失，未按规定对从业人员进行安全生产教育和培训" }) },
    Industry { name: "食品", licence: Some(LicenceSpec { ty: "食品生产许可证", auth: Auth::DistrictSamr, number: "SC1##{R}0####", scope: Some("糕点、饮料、速冻食品"), years: Some(5) }), safety: Some(SafetySpec { category: "food-safety", auth: Auth::DistrictSamr, description: "监督抽检的糕点产品菌落总数不符合食品安全国家标准" }) },
    Industry { name: "医药", licence: Some(LicenceSpec { ty: "药品经营许可证", auth: Auth::ProvDrug, number: "{A}AA@######", scope: Some("中成药、化学药制剂、抗生素制剂、生物制品（除疫苗）"), years: Some(5) }), safety: Some(SafetySpec { category: "drug-safety", auth: Auth::ProvDrug, description: "未按规定冷链储存、运输需冷藏药品" }) },
    Industry { name: "建筑工程", licence: Some(LicenceSpec { ty: "建筑业企业资质证书", auth: Auth::ProvHousing, number: "D@########", scope: Some("建筑工程施工总承包二级"), years: Some(5) }), safety: Some(SafetySpec { category: "production-safety", auth: Auth::CityEmergency, description: "施工现场脚手架搭设不符合规范，发生一般生产安全事故，造成一人受伤" }) },
    Industry { name: "电子科技", licence: Some(LicenceSpec { ty: "增值电信业务经营许可证", auth: Auth::ProvComm, number: "{A}B2-{Y}####", scope: Some("信息服务业务（仅限互联网信息服务）"), years: Some(5) }), safety: Some(SafetySpec { category: "product-quality", auth: Auth::CitySamr, description: "生产销售的移动电源经监督抽查，输出电压及安全性项目不合格" }) },
    Industry { name: "餐饮管理", licence: Some(LicenceSpec { ty: "食品经营许可证", auth: Auth::DistrictSamr, number: "JY2{R}#######", scope: Some("热食类食品制售、冷食类食品制售"), years: Some(5) }), safety: Some(SafetySpec { category: "food-safety", auth: Auth::DistrictSamr, description: "后厨使用超过保质期的食品原料，餐饮具未按规定清洗消毒" }) },
    Industry { name: "电梯工程", licence: Some(LicenceSpec { ty: "特种设备生产许可证", auth: Auth::ProvSamr, number: "TS3{R4}@##-{Y}", scope: Some("电梯安装、改造、修理"), years: Some(4) }), safety: Some(SafetySpec { category: "special-equipment", auth: Auth::CitySamr, description: "维护保养的电梯未按安全技术规范进行定期检验，存在困人故障隐患" }) },
    Industry { name: "物流", licence: Some(LicenceSpec { ty: "道路运输经营许可证", auth: Auth::CityTransport, number: "{A}交运管许可{C}字{R}@#####号", scope: Some("道路普通货物运输、货物专用运输（集装箱）"), years: Some(4) }), safety: Some(SafetySpec { category: "production-safety", auth: Auth::CityEmergency, description: "货运车辆超限超载运输，未落实动态监控主体责任" }) },
    Industry { name: "化工", licence: Some(LicenceSpec { ty: "安全生产许可证", auth: Auth::ProvEmergency, number: "({A})WH安许证字〔{Y}〕@###", scope: Some("危险化学品生产（涂料、稀释剂）"), years: Some(3) }), safety: Some(SafetySpec { category: "production-safety", auth: Auth::ProvEmergency, description: "危险化学品储存场所未设置可燃气体监测报警装置" }) },
    Industry { name: "医疗器械", licence: Some(LicenceSpec { ty: "医疗器械经营许可证", auth: Auth::CitySamr, number: "{A}{C}药监械经营许{Y}@###号", scope: Some("第三类医疗器械：注射穿刺器械、医用卫生材料及敷料"), years: Some(5) }), safety: Some(SafetySpec { category: "medical-device", auth: Auth::CitySamr, description: "经营未取得医疗器械注册证的第三类医疗器械" }) },
    Industry { name: "国际贸易", licence: Some(LicenceSpec { ty: "对外贸易经营者备案登记", auth: Auth::CityCommerce, number: "0@######", scope: None, years: None }), safety: Some(SafetySpec { category: "product-quality", auth: Auth::CitySamr, description: "销售的儿童服装纤维含量与标识不符，经监督抽查不合格" }) },
    Industry { name: "软件开发", licence: Some(LicenceSpec { ty: "增值电信业务经营许可证", auth: Auth::ProvComm, number: "{A}B2-{Y}####", scope: Some("在线数据处理与交易处理业务"), years: Some(5) }), safety: None },
    Industry { name: "建材", licence: None, safety: Some(SafetySpec { category: "product-quality", auth: Auth::CitySamr, description: "生产的热轧带肋钢筋重量偏差不符合国家标准" }) },
];

/// Public institutions and social organisations: name template (`{city}`, `{district}`,
/// `{brand}`), licence, and the honour they may receive.
struct NonProfit {
    prefix: &'static str,
    name: &'static str,
    licence: Option<LicenceSpec>,
    honour: (&'static str, &'static str, Auth),
}

#[rustfmt::skip]
const NON_PROFITS: &[NonProfit] = &[
    NonProfit { prefix: "12", name: "{city}{district}人民医院", licence: Some(LicenceSpec { ty: "医疗机构执业许可证", auth: Auth::CityHealth, number: "PDY@####-{R}-12A1001", scope: Some("内科、外科、妇产科、儿科、急诊医学科、医学检验科"), years: Some(5) }), honour: ("{city}卫生健康系统先进集体", "municipal", Auth::CityHealth) },
    NonProfit { prefix: "12", name: "{city}{district}实验小学", licence: Some(LicenceSpec { ty: "办学许可证", auth: Auth::DistrictEducation, number: "教{R}@#####", scope: Some("小学学历教育"), years: None }), honour: ("{prov}文明校园", "provincial", Auth::ProvCivilisation) },
    NonProfit { prefix: "12", name: "{city}{district}疾病预防控制中心", licence: None, honour: ("{prov}文明单位", "provincial", Auth::ProvCivilisation) },
    NonProfit { prefix: "52", name: "{city}{district}{brand}养老服务中心", licence: Some(LicenceSpec { ty: "养老机构备案", auth: Auth::CityCivilAffairs, number: "{R}@####", scope: Some("机构养老、居家养老上门服务"), years: None }), honour: ("全国先进社会组织", "national", Auth::Mca) },
    NonProfit { prefix: "52", name: "{city}{brand}职业技能培训学校", licence: Some(LicenceSpec { ty: "民办学校办学许可证", auth: Auth::CityHrss, number: "人社民{R}@#######", scope: Some("电工、育婴员、中式烹调师职业技能培训"), years: Some(5) }), honour: ("{city}优秀社会组织", "municipal", Auth::CityCivilAffairs) },
    NonProfit { prefix: "52", name: "{city}{district}{brand}社会工作服务中心", licence: None, honour: ("{city}优秀社会组织", "municipal", Auth::CityCivilAffairs) },
];

/// GB 11714 check character of an eight-character organisation code.
fn org_code_check(code: &str) -> char {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = code
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(36).expect("alphanumeric") * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).expect("digit"),
    }
}

// ---------------------------------------------------------------- subjects and records

#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// Pays on time, no negative record.
    Good,
    /// Late payments, a minor penalty.
    Late,
    /// Defaults, judgments, serious violations.
    Bad,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OrgKind {
    Enterprise(usize),
    NonProfit(usize),
}

struct Subject {
    id: SubjectId,
    name: String,
    region: &'static Region,
    org: Option<OrgKind>,
}

/// One output line before it is written.
struct Out {
    record_id: String,
    subject: String,
    class: &'static str,
    source: String,
    effective: Date,
    version: u32,
    supersedes: Option<u32>,
    fields: Vec<(&'static str, Value)>,
}

impl Out {
    fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    fn set(&mut self, name: &'static str, v: Value) {
        match self.fields.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = v,
            None => self.fields.push((name, v)),
        }
    }

    fn fen(&self, name: &str) -> Option<i64> {
        let s = self.get(name)?.as_str()?;
        let (y, f) = s.split_once('.')?;
        Some(y.parse::<i64>().ok()? * 100 + f.parse::<i64>().ok()?)
    }

    /// The JSON line, keys in a fixed order and fields in catalogue order.
    fn line(&self, catalog: &Catalog) -> String {
        let js = |s: &str| serde_json::to_string(s).expect("string");
        let class = catalog
            .class(self.class)
            .unwrap_or_else(|| panic!("class {} is not in the catalogue", self.class));
        let mut fields: Vec<&(&str, Value)> = self.fields.iter().collect();
        fields.sort_by_key(|(k, _)| {
            class
                .fields
                .iter()
                .position(|f| f.name == *k)
                .unwrap_or_else(|| panic!("{}.{k}: no such field", self.class))
        });
        let mut s = format!(
            "{{\"record_id\":{},\"subject\":{},\"class\":{},\"source\":{},\"effective\":{},\"version\":{}",
            js(&self.record_id),
            js(&self.subject),
            js(self.class),
            js(&self.source),
            js(&self.effective.to_string()),
            self.version
        );
        if let Some(v) = self.supersedes {
            let _ = write!(s, ",\"supersedes\":{v}");
        }
        s.push_str(",\"fields\":{");
        for (i, (k, v)) in fields.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(s, "{sep}{}:{}", js(k), serde_json::to_string(v).expect("value"));
        }
        s.push_str("}}");
        s
    }
}

/// A loan or card account, for repayment records and judgments that refer to it.
struct Account {
    reference: String,
    source: String,
    card: bool,
    balance: i64,
    due: i64,
    reported: Date,
}

struct Gen {
    rng: Rng,
    next_seq: BTreeMap<&'static str, u64>,
    out: Vec<Out>,
}

fn record_prefix(class: &str) -> &'static str {
    match class {
        "identity" => "ID",
        "loans" => "LN",
        "credit-cards" => "CC",
        "repayment" => "RP",
        "guarantees" => "GT",
        "tax" => "TX",
        "judgments" => "JD",
        "admin-penalties" => "AP",
        "licences" => "LC",
        "market-safety" => "MS",
        "commendations" => "CM",
        other => panic!("no record id prefix for class {other}"),
    }
}

impl Gen {
    /// A record id unique within the class, e.g. `LN-2025-000123` (`ID-00000123` for
    /// identity records, which hold from birth).
    fn record_id(&mut self, class: &'static str, y: i32) -> String {
        let step = self.rng.range(1, 37) as u64;
        let seq = self.next_seq.entry(class).or_insert(100);
        *seq += step;
        match class {
            "identity" => format!("{}-{:08}", record_prefix(class), *seq),
            _ => format!("{}-{y}-{:06}", record_prefix(class), *seq),
        }
    }

    fn push(
        &mut self,
        s: &Subject,
        class: &'static str,
        source: String,
        effective: Date,
        fields: Vec<(&'static str, Value)>,
    ) {
        assert!(
            effective <= last_day(),
            "{class}: effective date {effective} is after {}",
            last_day()
        );
        let record_id = self.record_id(class, year(effective));
        self.out.push(Out {
            record_id,
            subject: s.id.to_string(),
            class,
            source,
            effective,
            version: 1,
            supersedes: None,
            fields,
        });
    }

    fn identity(&mut self, s: &Subject, born: Date, gender: Option<bool>, legal_rep: Option<String>) {
        let r = s.region;
        let home = s.org.is_none();
        let address = r.address(&mut self.rng, home);
        let mut f = vec![
            ("name", text(&s.name)),
            (
                "id_type",
                text(if home {
                    "resident-identity-card"
                } else {
                    "unified-social-credit-code"
                }),
            ),
            ("id_number", text(s.id.as_str())),
            ("registered_address", text(address)),
            ("born_or_established", date(born)),
        ];
        let source = match s.org {
            None => {
                f.push(("gender", text(if gender == Some(true) { "male" } else { "female" })));
                Auth::DistrictPolice.of(r).1
            }
            Some(kind) => {
                let (ty, auth) = match kind {
                    OrgKind::Enterprise(_) => ("enterprise", Auth::DistrictSamr),
                    OrgKind::NonProfit(i) if NON_PROFITS[i].prefix == "12" => {
                        ("public-institution", Auth::CityEstablishment)
                    }
                    OrgKind::NonProfit(_) => ("social-organisation", Auth::CityCivilAffairs),
                };
                f.push(("organisation_type", text(ty)));
                if let Some(rep) = legal_rep {
                    f.push(("legal_representative", text(rep)));
                }
                auth.of(r).1
            }
        };
        // Identity holds from birth or establishment.
        self.push(s, "identity", source, born, f);
    }

    fn loan(&mut self, s: &Subject, profile: Profile) -> Account {
        let rng = &mut self.rng;
        let r = s.region;
        let bank = rng.pick(BANKS);
        let (lender, source) = bank.branch(r);
        let reported = reporting_date(rng);
        let (ty, code, principal, years) = if s.org.is_some() {
            let (ty, code) = *rng.pick(&[
                ("working-capital", "WC"),
                ("fixed-asset", "FA"),
                ("trade-finance", "TF"),
            ]);
            let years = if ty == "fixed-asset" {
                rng.range(3, 8)
            } else {
                rng.range(1, 3)
            };
            (ty, code, rng.yuan(500_000, 30_000_000, 10_000), years)
        } else {
            match rng.below(3) {
                0 => (
                    "personal-housing",
                    "HL",
                    rng.yuan(300_000, 3_000_000, 10_000),
                    *rng.pick(&[20, 25, 30]),
                ),
                1 => (
                    "personal-consumer",
                    "CL",
                    rng.yuan(10_000, 300_000, 1_000),
                    rng.range(1, 3),
                ),
                _ => (
                    "personal-business",
                    "BL",
                    rng.yuan(50_000, 1_000_000, 10_000),
                    rng.range(2, 5),
                ),
            }
        };
        let years = i32::try_from(years).expect("small");
        // Opened at least two months before the reporting date; a performing loan has not
        // matured yet, a bad one may have.
        let earliest = if profile == Profile::Bad {
            add_years(reported, -years - 1)
        } else {
            add_years(reported, -years)
        };
        let opened = rng.date(add_days(earliest.max(ymd(2015, 1, 1)), 30), add_days(reported, -60));
        let maturity = add_years(opened, years);
        let elapsed = (reported.days_since_epoch() - opened.days_since_epoch()) as f64;
        let total = (maturity.days_since_epoch() - opened.days_since_epoch()) as f64;
        // A defaulted loan stopped amortising early.
        let floor = if profile == Profile::Bad { 0.6 } else { 0.05 };
        let left = (1.0 - elapsed / total).clamp(floor, 1.0);
        let balance = ((principal as f64 * left) as i64 / 100 * 100 + rng.range(0, 9_999)).min(principal);
        let months = i64::from(years) * 12;
        let due = principal / months + principal * 4 / 100 / 12 + rng.range(0, 99);
        let classification = match profile {
            Profile::Good => "normal",
            Profile::Late => *rng.pick(&["normal", "special-mention", "special-mention"]),
            Profile::Bad => *rng.pick(&["substandard", "doubtful", "loss"]),
        };
        let contract_no = format!(
            "{}-{}-{}-{code}{:06}",
            bank.code.to_ascii_uppercase(),
            r.city_short.to_ascii_uppercase(),
            year(opened),
            rng.below(1_000_000)
        );
        let f = vec![
            ("lender", text(&lender)),
            ("contract_no", text(&contract_no)),
            ("loan_type", text(ty)),
            ("principal", amount(principal)),
            ("balance", amount(balance)),
            ("opened", date(opened)),
            ("maturity", date(maturity)),
            ("classification", text(classification)),
        ];
        self.push(s, "loans", source.clone(), reported, f);
        Account {
            reference: contract_no,
            source,
            card: false,
            balance,
            due,
            reported,
        }
    }

    fn card(&mut self, s: &Subject, profile: Profile) -> Account {
        let rng = &mut self.rng;
        let bank = rng.pick(BANKS);
        let (issuer, source) = bank.branch(s.region);
        let reported = reporting_date(rng);
        let opened = rng.date(ymd(2015, 1, 1), add_years(reported, -1));
        let limit = *rng.pick(&[5_000_i64, 10_000, 20_000, 30_000, 50_000, 80_000, 100_000]) * 100;
        let account = format!("{}******{:04}", bank.bin, rng.below(10_000));
        let (status, balance, overdue) = match profile {
            Profile::Good => ("active", rng.range(0, limit * 6 / 10), rng.chance(50).then_some(0)),
            Profile::Late => ("active", rng.range(limit / 2, limit), Some(rng.range(1, 2))),
            Profile::Bad => (
                *rng.pick(&["frozen", "written-off"]),
                rng.range(limit, limit * 13 / 10),
                Some(rng.range(4, 12)),
            ),
        };
        let mut f = vec![
            ("issuer", text(&issuer)),
            ("card_account", text(&account)),
            ("credit_limit", amount(limit)),
            ("balance", amount(balance)),
            ("opened", date(opened)),
            ("status", text(status)),
        ];
        if let Some(m) = overdue {
            f.push(("max_overdue_months", Value::from(m)));
        }
        self.push(s, "credit-cards", source.clone(), reported, f);
        let due = if profile == Profile::Good {
            balance
        } else {
            balance / 10
        };
        Account {
            reference: account,
            source,
            card: true,
            balance,
            due: due.max(10_000),
            reported,
        }
    }

    fn repayment(&mut self, s: &Subject, acct: &Account, profile: Profile) {
        let rng = &mut self.rng;
        let (y, m, _) = acct.reported.ymd();
        let due_date = ymd(i32::from(y), u32::from(m), rng.range(5, 25) as u32);
        let (paid, days, status) = match profile {
            Profile::Good if !acct.card && acct.balance < acct.due => (acct.due, 0, "settled"),
            Profile::Good => (acct.due, 0, "paid-on-time"),
            Profile::Late => {
                let days = rng.range(3, 85);
                if rng.chance(60) {
                    (acct.due, days, "paid-late")
                } else {
                    (acct.due / 2, days, *rng.pick(&["partially-paid", "overdue"]))
                }
            }
            Profile::Bad => (*rng.pick(&[0, 0, acct.due / 5]), rng.range(91, 540), "overdue"),
        };
        let f = vec![
            ("account_ref", text(&acct.reference)),
            ("period", text(period(due_date))),
            ("amount_due", amount(acct.due)),
            ("amount_paid", amount(paid)),
            ("days_overdue", Value::from(days)),
            ("status", text(status)),
        ];
        self.push(s, "repayment", acct.source.clone(), due_date, f);
    }

    fn guarantee(&mut self, s: &Subject, debtor: &Subject) {
        let rng = &mut self.rng;
        let bank = rng.pick(BANKS);
        let (creditor, source) = bank.branch(debtor.region);
        let start = rng.date(ymd(2023, 1, 1), ymd(2026, 9, 30));
        let big = s.org.is_some();
        let ty = if big {
            *rng.pick(&["joint-and-several", "joint-and-several", "mortgage", "pledge"])
        } else {
            *rng.pick(&["joint-and-several", "general"])
        };
        let sum = if big {
            rng.yuan(1_000_000, 20_000_000, 100_000)
        } else {
            rng.yuan(100_000, 2_000_000, 10_000)
        };
        let contract_no = format!(
            "{}-{}-{}-GT{:06}",
            bank.code.to_ascii_uppercase(),
            debtor.region.city_short.to_ascii_uppercase(),
            year(start),
            rng.below(1_000_000)
        );
        let mut f = vec![
            ("creditor", text(creditor)),
            ("contract_no", text(contract_no)),
            ("debtor", text(debtor.id.as_str())),
            ("guaranteed_amount", amount(sum)),
            ("guarantee_type", text(ty)),
            ("start", date(start)),
        ];
        if rng.chance(70) {
            f.push(("end", date(add_years(start, rng.range(1, 3) as i32))));
        }
        self.push(s, "guarantees", source, start, f);
    }

    fn tax(&mut self, s: &Subject, profile: Profile) {
        let rng = &mut self.rng;
        let r = s.region;
        let tax_year = rng.range(2022, 2025) as i32;
        // Ratings for a year are published in April of the next.
        let published = ymd(tax_year + 1, 4, rng.range(1, 30) as u32);
        let rating = match profile {
            Profile::Good => *rng.pick(&["A", "A", "B"]),
            Profile::Late => *rng.pick(&["B", "B", "M"]),
            Profile::Bad => *rng.pick(&["C", "D", "D"]),
        };
        let (arrears, since) = match profile {
            Profile::Good => (0, None),
            Profile::Late if rng.chance(50) => (0, None),
            Profile::Late => (
                rng.fen(2_000, 60_000),
                Some(rng.date(ymd(tax_year, 1, 15), ymd(tax_year, 12, 15))),
            ),
            Profile::Bad => (
                rng.fen(80_000, 3_000_000),
                Some(rng.date(ymd(tax_year, 1, 15), ymd(tax_year, 12, 15))),
            ),
        };
        let mut f = vec![
            ("tax_authority", text(Auth::DistrictTax.of(r).0)),
            ("tax_period", text(tax_year.to_string())),
            ("arrears", amount(arrears)),
            (
                "major_violation",
                Value::Bool(profile == Profile::Bad && rating == "D" && rng.chance(50)),
            ),
        ];
        // Social organisations are not rated in this example.
        let social = matches!(s.org, Some(OrgKind::NonProfit(n)) if NON_PROFITS[n].prefix == "52");
        if !social {
            f.push(("credit_rating", text(rating)));
        }
        if let Some(d) = since {
            f.push(("arrears_since", date(d)));
        }
        self.push(s, "tax", Auth::DistrictTax.of(r).1, published, f);
    }

    fn judgment(&mut self, s: &Subject, acct: Option<&Account>) {
        let rng = &mut self.rng;
        let r = s.region;
        let (court, source) = Auth::DistrictCourt.of(r);
        let (cause, sum, after) = match acct {
            Some(a) => (
                if a.card {
                    "信用卡纠纷"
                } else {
                    "金融借款合同纠纷"
                },
                a.balance + a.balance / 10 + rng.range(0, 99),
                a.reported,
            ),
            None => (
                *rng.pick(&[
                    "买卖合同纠纷",
                    "建设工程施工合同纠纷",
                    "承揽合同纠纷",
                    "金融借款合同纠纷",
                    "租赁合同纠纷",
                ]),
                rng.fen(50_000, 5_000_000),
                ymd(2023, 1, 1),
            ),
        };
        let judged = rng.date(add_days(after, 30).min(add_days(last_day(), -40)), last_day());
        let dishonest = rng.chance(55);
        // A debtor goes on the dishonest list in an enforcement (执) case.
        let kind = if dishonest { "执" } else { "民初" };
        let case_number = r.fill(&format!("({{Y}}){{A}}{{R4}}{kind}@###号"), year(judged), rng);
        let performance = if dishonest {
            *rng.pick(&["not-performed", "partially-performed"])
        } else {
            *rng.pick(&["fully-performed", "partially-performed", "not-performed"])
        };
        let mut f = vec![
            ("court", text(court)),
            ("case_number", text(case_number)),
            ("judgment_date", date(judged)),
            ("amount", amount(sum)),
            ("dishonest_debtor", Value::Bool(dishonest)),
            ("performance_status", text(performance)),
        ];
        if acct.is_some() || rng.chance(85) {
            f.push(("cause", text(cause)));
        }
        self.push(s, "judgments", source, judged, f);
    }

    fn penalty(&mut self, s: &Subject, profile: Profile) {
        struct P {
            auth: Auth,
            number: &'static str,
            violation: &'static str,
            ty: &'static str,
            fine: Option<(i64, i64)>,
            severe: bool,
        }
        #[rustfmt::skip]
        const ORG: &[P] = &[
            P { auth: Auth::DistrictSamr, number: "{C}{D}市监处罚〔{Y}〕@##号", violation: "对商品的性能、功能作虚假或者引人误解的商业宣传，违反《中华人民共和国反不正当竞争法》第八条第一款", ty: "fine", fine: Some((20_000, 200_000)), severe: true },
            P { auth: Auth::DistrictSamr, number: "{C}{D}市监处罚〔{Y}〕@##号", violation: "未按规定期限公示年度报告", ty: "warning", fine: None, severe: false },
            P { auth: Auth::DistrictSamr, number: "{C}{D}市监处罚〔{Y}〕@##号", violation: "经营者未按规定明码标价", ty: "fine", fine: Some((2_000, 10_000)), severe: false },
            P { auth: Auth::DistrictTax, number: "{C}{D}税罚〔{Y}〕@##号", violation: "未按照规定期限办理纳税申报和报送纳税资料", ty: "fine", fine: Some((2_000, 10_000)), severe: false },
            P { auth: Auth::DistrictTax, number: "{C}{D}税罚〔{Y}〕@##号", violation: "虚开增值税普通发票，违反《中华人民共和国发票管理办法》第二十一条", ty: "confiscation", fine: Some((50_000, 500_000)), severe: true },
            P { auth: Auth::CityEcology, number: "{C}环罚〔{Y}〕@##号", violation: "排放大气污染物超过国家规定的排放标准", ty: "fine", fine: Some((100_000, 1_000_000)), severe: true },
            P { auth: Auth::CityEmergency, number: "({C})应急罚〔{Y}〕@#号", violation: "未按规定对从业人员进行安全生产教育和培训", ty: "fine", fine: Some((10_000, 50_000)), severe: false },
            P { auth: Auth::DistrictSamr, number: "{C}{D}市监处罚〔{Y}〕@##号", violation: "销售不符合保障人体健康和人身、财产安全的国家标准的产品，情节严重", ty: "suspension", fine: Some((50_000, 300_000)), severe: true },
        ];
        #[rustfmt::skip]
        const PERSON: &[P] = &[
            P { auth: Auth::DistrictPolice, number: "{C}公({D})行罚决字〔{Y}〕@####号", violation: "殴打他人，违反《中华人民共和国治安管理处罚法》第四十三条第一款", ty: "administrative-detention", fine: Some((200, 500)), severe: true },
            P { auth: Auth::DistrictPolice, number: "{C}公({D})行罚决字〔{Y}〕@####号", violation: "饮酒后驾驶机动车", ty: "fine", fine: Some((1_000, 2_000)), severe: true },
            P { auth: Auth::DistrictTax, number: "{C}{D}税简罚〔{Y}〕@###号", violation: "未按照规定期限办理个人所得税综合所得汇算清缴", ty: "fine", fine: Some((200, 2_000)), severe: false },
        ];
        let rng = &mut self.rng;
        let r = s.region;
        let list = if s.org.is_some() { ORG } else { PERSON };
        let severe = profile == Profile::Bad;
        let choices: Vec<&P> = list.iter().filter(|p| p.severe == severe || s.org.is_none()).collect();
        let p = *rng.pick(&choices);
        let decided = rng.date(ymd(2023, 1, 1), last_day());
        let (authority, source) = p.auth.of(r);
        let mut f = vec![
            ("authority", text(authority)),
            ("decision_number", text(r.fill(p.number, year(decided), rng))),
            ("decision_date", date(decided)),
            ("violation", text(p.violation)),
            ("penalty_type", text(p.ty)),
            // Penalties on organisations are published; on persons, only the serious ones.
            (
                "publicized",
                Value::Bool(s.org.is_some() && (p.ty != "warning" || rng.chance(50))),
            ),
        ];
        if let Some((lo, hi)) = p.fine {
            f.push((
                "fine_amount",
                amount(rng.yuan(lo, hi, if hi > 10_000 { 1_000 } else { 100 })),
            ));
        }
        self.push(s, "admin-penalties", source, decided, f);
    }

    fn licence(&mut self, s: &Subject, spec: &LicenceSpec) {
        let rng = &mut self.rng;
        let r = s.region;
        let issued = rng.date(ymd(2018, 1, 1), add_days(last_day(), -30));
        let until = spec.years.map(|n| add_years(issued, n));
        let status = match until {
            Some(u) if u < last_day() => "expired",
            _ => "valid",
        };
        let (authority, source) = spec.auth.of(r);
        let mut f = vec![
            ("authority", text(authority)),
            ("licence_no", text(r.fill(spec.number, year(issued), rng))),
            ("licence_type", text(spec.ty)),
            ("issued", date(issued)),
            ("status", text(status)),
        ];
        if let Some(scope) = spec.scope {
            f.push(("scope", text(scope)));
        }
        if let Some(u) = until {
            f.push(("valid_until", date(u)));
        }
        self.push(s, "licences", source, issued, f);
    }

    fn safety(&mut self, s: &Subject, spec: &SafetySpec, profile: Profile) {
        let rng = &mut self.rng;
        let found = rng.date(ymd(2023, 1, 1), last_day());
        let severity = match profile {
            Profile::Bad => *rng.pick(&["serious", "serious", "major"]),
            _ => "general",
        };
        let (authority, source) = spec.auth.of(s.region);
        let mut f = vec![
            ("category", text(spec.category)),
            ("authority", text(authority)),
            ("found_on", date(found)),
            ("description", text(spec.description)),
            ("severity", text(severity)),
        ];
        if profile == Profile::Bad {
            f.push(("blacklisted", Value::Bool(severity == "major")));
        }
        self.push(s, "market-safety", source, found, f);
    }

    fn commendation(&mut self, s: &Subject, honour: (&str, &str, Auth)) {
        let rng = &mut self.rng;
        let r = s.region;
        let (title, level, auth) = honour;
        let awarded = rng.date(ymd(2024, 1, 1), last_day());
        let honour = title.replace("{city}", r.city).replace("{prov}", r.prov());
        let (body, source) = auth.of(r);
        let mut f = vec![
            ("awarding_body", text(body)),
            ("honour", text(honour)),
            ("level", text(level)),
            ("awarded", date(awarded)),
        ];
        if rng.chance(60) {
            let citation = *rng.pick(&[
                "在{Y}年度工作中成绩突出，特予表彰",
                "坚持诚信经营、依法履约，社会信誉良好",
                "积极参与公益事业，事迹突出，社会影响良好",
            ]);
            f.push((
                "citation",
                text(citation.replace("{Y}", &(year(awarded) - 1).to_string())),
            ));
        }
        self.push(s, "commendations", source, awarded, f);
    }
}

/// The correction (version 2) of a record, or `None` if this kind of record is not corrected.
fn correction(v1: &Out, rng: &mut Rng) -> Option<Out> {
    let mut v2 = Out {
        record_id: v1.record_id.clone(),
        subject: v1.subject.clone(),
        class: v1.class,
        source: v1.source.clone(),
        effective: v1.effective,
        version: 2,
        supersedes: Some(1),
        fields: v1.fields.clone(),
    };
    match v1.class {
        // The address was keyed in with a wrong house number.
        "identity" => {
            let old = v1.get("registered_address")?.as_str()?;
            let i = old.find('号')?;
            let (start, _) = old[..i]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_digit())
                .last()?;
            let n: i64 = old[start..i].parse().ok()?;
            v2.set(
                "registered_address",
                text(format!("{}{}{}", &old[..start], n + rng.range(1, 9), &old[i..])),
            );
        }
        // Objection upheld: the overdue months were the bank's posting error.
        "credit-cards" if v1.get("max_overdue_months").and_then(Value::as_i64).unwrap_or(0) > 0 => {
            v2.set("max_overdue_months", Value::from(0));
        }
        // The reported balance missed the last instalment.
        "loans" | "credit-cards" => {
            let b = v1.fen("balance")?;
            v2.set("balance", amount((b - b / 20 - rng.range(0, 99)).max(0)));
        }
        // Objection upheld: the payment was made on time but posted late by the bank.
        "repayment" => {
            if v1.get("days_overdue")?.as_i64()? == 0 {
                return None;
            }
            v2.set("amount_paid", v1.get("amount_due")?.clone());
            v2.set("days_overdue", Value::from(0));
            v2.set("status", text("paid-on-time"));
        }
        // Clerical error in the amount (裁定补正).
        "judgments" => {
            let a = v1.fen("amount")?;
            v2.set("amount", amount(a / 1000 * 1000));
        }
        // The fine carried an extra zero.
        "admin-penalties" => {
            let f = v1.fen("fine_amount")?;
            v2.set("fine_amount", amount(f / 10));
        }
        // Rating re-assessed on review (纳税信用复评).
        "tax" => {
            let up = match v1.get("credit_rating")?.as_str()? {
                "B" => "A",
                "M" | "C" => "B",
                "D" => "C",
                _ => return None,
            };
            v2.set("credit_rating", text(up));
        }
        "market-safety" => {
            if v1.get("severity")?.as_str()? == "general" {
                return None;
            }
            v2.set("severity", text("general"));
            v2.set("blacklisted", Value::Bool(false));
        }
        "guarantees" => {
            let a = v1.fen("guaranteed_amount")?;
            v2.set("guaranteed_amount", amount(a / 2));
        }
        _ => return None,
    }
    (v2.fields != v1.fields).then_some(v2)
}

// ---------------------------------------------------------------- the run

fn make_persons(rng: &mut Rng) -> Vec<(Subject, Date, bool)> {
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut persons = Vec::new();
    while persons.len() < PERSONS {
        let region = rng.pick(REGIONS);
        let born = rng.date(ymd(1950, 1, 1), ymd(2003, 12, 31));
        let male = rng.chance(50);
        let (y, m, d) = born.ymd();
        // The 17th digit is odd for men, even for women.
        let sex = rng.below(5) * 2 + u64::from(male);
        let body = format!("{}{y:04}{m:02}{d:02}{:02}{sex}", region.code, rng.below(100));
        let id = SubjectId::resident_from_body(&body).expect("valid resident identity number body");
        assert_eq!(id.kind(), SubjectKind::Person);
        let name = person_name(rng, male);
        if !ids.insert(id.to_string()) || !names.insert(name.clone()) {
            continue;
        }
        persons.push((
            Subject {
                id,
                name,
                region,
                org: None,
            },
            born,
            male,
        ));
    }
    persons
}

fn make_organisations(rng: &mut Rng) -> Vec<(Subject, Date, String)> {
    const CODE_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut brands: Vec<&str> = BRANDS.to_vec();
    rng.shuffle(&mut brands);
    let mut industries: Vec<usize> = (0..INDUSTRIES.len()).collect();
    rng.shuffle(&mut industries);
    let mut orgs = Vec::new();
    let mut i = 0;
    while orgs.len() < ORGANISATIONS {
        let region = rng.pick(REGIONS);
        // 14 enterprises, then one of each public institution and social organisation.
        let kind = if i < ORGANISATIONS - NON_PROFITS.len() {
            OrgKind::Enterprise(industries[i % industries.len()])
        } else {
            OrgKind::NonProfit(i - (ORGANISATIONS - NON_PROFITS.len()))
        };
        let brand = brands[i % brands.len()];
        let (prefix, code8, name) = match kind {
            OrgKind::Enterprise(ind) => {
                let mut c = String::from("MA");
                for _ in 0..6 {
                    c.push(char::from(*rng.pick(CODE_CHARS)));
                }
                let suffix = *rng.pick(&["有限公司", "有限公司", "有限公司", "股份有限公司"]);
                (
                    "91",
                    c,
                    format!("{}{brand}{}{suffix}", region.city_name(), INDUSTRIES[ind].name),
                )
            }
            OrgKind::NonProfit(n) => {
                let np = &NON_PROFITS[n];
                let c = if np.prefix == "12" {
                    format!("4{:07}", rng.below(10_000_000))
                } else {
                    format!("MJ{:06}", rng.below(1_000_000))
                };
                let name = np
                    .name
                    .replace("{city}", region.city)
                    .replace("{district}", region.district)
                    .replace("{brand}", brand);
                (np.prefix, c, name)
            }
        };
        let body = format!("{prefix}{}{code8}{}", region.code, org_code_check(&code8));
        // The check character of a few bodies makes them unusable: draw again.
        let Some(id) = SubjectId::uscc_from_body(&body) else {
            continue;
        };
        if !ids.insert(id.to_string()) || !names.insert(name.clone()) {
            continue;
        }
        let established = rng.date(ymd(1998, 1, 1), ymd(2022, 12, 31));
        let male = rng.chance(70);
        let rep = person_name(rng, male);
        orgs.push((
            Subject {
                id,
                name,
                region,
                org: Some(kind),
            },
            established,
            rep,
        ));
        i += 1;
    }
    orgs
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys-example/catalog.toml").to_string());
    let toml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let catalog = Catalog::parse(&toml, Some(&path)).unwrap_or_else(|e| panic!("{e}"));

    let mut g = Gen {
        rng: Rng(SEED),
        next_seq: BTreeMap::new(),
        out: Vec::new(),
    };
    let persons = make_persons(&mut g.rng);
    let orgs = make_organisations(&mut g.rng);

    for (i, (s, born, male)) in persons.iter().enumerate() {
        g.identity(s, *born, Some(*male), None);
        // Five in eight pay on time, two pay late, one defaults.
        let (profile, n) = match i % 8 {
            0..=4 => (Profile::Good, g.rng.range(1, 4)),
            5 | 6 => (Profile::Late, g.rng.range(2, 4)),
            _ => (Profile::Bad, g.rng.range(3, 4)),
        };
        let mut acct: Option<Account> = None;
        let loan_first = g.rng.chance(60);
        let mut plan: Vec<&str> = match profile {
            Profile::Good => {
                let mut tail = vec![
                    if loan_first { "card" } else { "loan" },
                    "guarantee",
                    "licence",
                    "commendation",
                ];
                g.rng.shuffle(&mut tail);
                [vec![if loan_first { "loan" } else { "card" }, "repayment"], tail].concat()
            }
            Profile::Late => vec!["loan", "repayment", "card", "repayment"],
            Profile::Bad => vec![
                "loan",
                "repayment",
                "judgment",
                if g.rng.chance(50) { "penalty" } else { "card" },
            ],
        };
        plan.truncate(n as usize);
        for step in plan {
            match step {
                "loan" => acct = Some(g.loan(s, profile)),
                "card" => acct = Some(g.card(s, profile)),
                "repayment" => g.repayment(s, acct.as_ref().expect("an account first"), profile),
                "judgment" => g.judgment(s, acct.as_ref()),
                "penalty" => g.penalty(s, profile),
                "guarantee" => {
                    let debtor = &orgs[g.rng.below(ORGANISATIONS as u64) as usize].0;
                    g.guarantee(s, debtor);
                }
                "licence" => {
                    #[rustfmt::skip]
                    const PERSONAL: &[LicenceSpec] = &[
                        LicenceSpec { ty: "医师执业证书", auth: Auth::CityHealth, number: "1##{R}#########", scope: Some("内科专业"), years: None },
                        LicenceSpec { ty: "律师执业证", auth: Auth::ProvJustice, number: "1{R4}{Y}1#######", scope: None, years: None },
                        LicenceSpec { ty: "特种作业操作证", auth: Auth::CityEmergency, number: "T{R}{Y}####", scope: Some("电工作业（低压电工作业）"), years: Some(6) },
                    ];
                    let spec = g.rng.pick(PERSONAL);
                    g.licence(s, spec);
                }
                "commendation" => {
                    const PERSONAL: &[(&str, &str, Auth)] = &[
                        ("{city}优秀志愿者", "municipal", Auth::CityYouthLeague),
                        ("{prov}见义勇为先进个人", "provincial", Auth::ProvGov),
                        ("全国五一劳动奖章", "national", Auth::Acftu),
                        ("{city}道德模范", "municipal", Auth::CityCivilisation),
                    ];
                    let h = *g.rng.pick(PERSONAL);
                    g.commendation(s, h);
                }
                other => unreachable!("{other}"),
            }
        }
    }

    let mut enterprise_no = 0;
    for (s, established, rep) in &orgs {
        g.identity(s, *established, None, Some(rep.clone()));
        match s.org.expect("organisation") {
            OrgKind::Enterprise(ind) => {
                let industry = &INDUSTRIES[ind];
                // A third each: good, middling, bad.
                let profile = [Profile::Good, Profile::Late, Profile::Bad][enterprise_no % 3];
                enterprise_no += 1;
                let (mut plan, n) = match profile {
                    Profile::Good => {
                        let mut tail = vec!["licence", "commendation", "guarantee"];
                        g.rng.shuffle(&mut tail);
                        ([vec!["loan", "tax"], tail].concat(), g.rng.range(1, 4))
                    }
                    Profile::Late => {
                        let mut tail = vec!["loan", "licence", "safety"];
                        g.rng.shuffle(&mut tail);
                        ([vec!["penalty", "tax"], tail].concat(), g.rng.range(2, 4))
                    }
                    Profile::Bad => {
                        let mut tail = vec!["tax", "safety", "loan"];
                        g.rng.shuffle(&mut tail);
                        ([vec!["judgment", "penalty"], tail].concat(), g.rng.range(3, 4))
                    }
                };
                plan.retain(|&p| {
                    (p != "licence" || industry.licence.is_some()) && (p != "safety" || industry.safety.is_some())
                });
                plan.truncate(n as usize);
                for step in plan {
                    match step {
                        "loan" => {
                            g.loan(s, profile);
                        }
                        "tax" => g.tax(s, profile),
                        "penalty" => g.penalty(s, profile),
                        "judgment" => g.judgment(s, None),
                        "safety" => g.safety(s, industry.safety.as_ref().expect("checked"), profile),
                        "licence" => g.licence(s, industry.licence.as_ref().expect("checked")),
                        "commendation" => {
                            const HONOURS: &[(&str, &str, Auth)] = &[
                                ("{prov}守合同重信用企业", "provincial", Auth::ProvSamr),
                                ("{city}诚信经营示范企业", "municipal", Auth::CitySamr),
                                ("{prov}文明单位", "provincial", Auth::ProvCivilisation),
                                ("纳税信用A级纳税人", "provincial", Auth::ProvTax),
                            ];
                            let h = *g.rng.pick(HONOURS);
                            g.commendation(s, h);
                        }
                        "guarantee" => {
                            // An enterprise guarantees another enterprise's loan.
                            let others: Vec<&Subject> = orgs
                                .iter()
                                .map(|o| &o.0)
                                .filter(|o| o.id != s.id && matches!(o.org, Some(OrgKind::Enterprise(_))))
                                .collect();
                            let debtor = *g.rng.pick(&others);
                            g.guarantee(s, debtor);
                        }
                        other => unreachable!("{other}"),
                    }
                }
            }
            OrgKind::NonProfit(n) => {
                let np = &NON_PROFITS[n];
                let mut plan = vec!["licence", "tax", "commendation"];
                plan.retain(|&p| p != "licence" || np.licence.is_some());
                plan.truncate(g.rng.range(1, 3) as usize);
                for step in plan {
                    match step {
                        "licence" => g.licence(s, np.licence.as_ref().expect("checked")),
                        "tax" => g.tax(s, Profile::Good),
                        "commendation" => g.commendation(s, np.honour),
                        other => unreachable!("{other}"),
                    }
                }
            }
        }
    }

    // Corrections arrive later, as a separate batch after every first version: the 5th
    // identity record, then about every 17th other record, at most one per class (when a
    // record cannot be corrected or its class already has been, the next one is tried).
    let (mut ids_seen, mut others_seen) = (0, 0);
    let mut corrected = BTreeSet::new();
    let mut corrections = Vec::new();
    for v1 in &g.out {
        let pick = if v1.class == "identity" {
            ids_seen += 1;
            ids_seen == 5
        } else {
            others_seen += 1;
            others_seen >= CORRECT_EVERY && !corrected.contains(v1.class)
        };
        if pick && let Some(v2) = correction(v1, &mut g.rng) {
            corrected.insert(v1.class);
            corrections.push(v2);
            if v1.class != "identity" {
                others_seen = 0;
            }
        }
    }
    let n_corrections = corrections.len();
    g.out.extend(corrections);

    // Self-test: every line is checked against the catalogue exactly as ingest will read it.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut versions: BTreeSet<(String, String, u32)> = BTreeSet::new();
    let mut kinds = BTreeMap::new();
    for (n, out) in g.out.iter().enumerate() {
        let line = out.line(&catalog);
        let v: Value = serde_json::from_str(&line).expect("own JSON");
        let rec = Record::from_json(&v, &catalog).unwrap_or_else(|issues| panic!("line {}: {line}\n{issues:?}", n + 1));
        assert_eq!(
            Record::from_json(&rec.to_json(), &catalog).as_ref(),
            Ok(&rec),
            "round trip"
        );
        if let Some(prev) = rec.supersedes {
            let key = (rec.class.clone(), rec.record_id.clone(), prev);
            assert!(
                versions.contains(&key),
                "line {}: supersedes a version not emitted before",
                n + 1
            );
        }
        assert!(
            versions.insert((rec.class.clone(), rec.record_id.clone(), rec.version)),
            "line {}: duplicate record id and version",
            n + 1
        );
        if rec.class == "identity" && rec.version == 1 {
            *kinds.entry(format!("{:?}", rec.subject.kind())).or_insert(0) += 1;
        }
        *per_class.entry(rec.class).or_insert(0) += 1;
        writeln!(stdout, "{line}").expect("stdout");
    }
    stdout.flush().expect("stdout");
    for class in catalog.classes.keys() {
        assert!(per_class.contains_key(class), "no record of class {class}");
    }
    assert_eq!(kinds.get("Person"), Some(&PERSONS));
    assert_eq!(kinds.get("Organisation"), Some(&ORGANISATIONS));
    assert!(n_corrections >= 3, "only {n_corrections} corrections");

    let counts: Vec<String> = per_class.iter().map(|(c, n)| format!("{c} {n}")).collect();
    eprintln!(
        "gen_example_data: {} records ({} corrections) for {} subjects ({PERSONS} persons, {ORGANISATIONS} organisations): {}",
        g.out.len(),
        n_corrections,
        PERSONS + ORGANISATIONS,
        counts.join(", ")
    );
}
