"""Deterministic demo data: a believable year of service records, complaints and surveys.

`sqms init --demo` (and so `make run`) calls `load_demo`, which writes the four input
files of DESIGN.md §3 with `generate_demo` and imports them through the ordinary
importer, so the demo exercises exactly the path real data takes.

What the data looks like, and why:

- 13 calendar months ending with `end_period` (default: the previous month), so the
  monthly report has a full year of history plus the month it reports on.
- Volume follows the official working-day calendar (national holidays such as 国庆
  and 春节 are quiet, make-up workdays are busy) and office hours (peaks around 10:00
  and 15:00); customer-facing departments also work, more quietly, at weekends.
- Response times depend on the channel and on how busy the hour is; a few percent
  miss the phone (30 s) and online (60 s) targets and a few have no response at all.
- Complaints of both severities, most settled within their working-day deadline,
  some late; in the last month some are still open.
- Two departments drift below target over the last four months — 运营部 (OPS)
  answers more slowly, 销售部 (SALES) loses satisfaction — so that the report has
  misses to explain; the others mostly meet the targets of config/sqms.yaml.

Everything comes from one `numpy.random.default_rng(seed)` drawn in a fixed order and
is generated column-wise (no Python loop per record), so the same seed and
`end_period` give byte-identical files. Nothing is dated after "now": data is first
generated for whole months and then clipped, which keeps the ids and the rows
before "now" identical to those of the unclipped month.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from sqms.calendar import (
    is_covered,
    is_working_day,
    parse_period,
    periods_ending,
    previous_period,
    to_local,
    utcnow,
)
from sqms.complaints.service import deadlines_for
from sqms.config import Settings
from sqms.ingest import ImportResult
from sqms.kpi_catalog import CHANNELS
from sqms.surveys.questionnaire import known_items, load_questionnaires

MONTHS = 13
DRIFT_MONTHS = 4  # the drifting departments get worse over this many final months
DEFAULT_SEED = 2026
FILES = {  # import kind -> file name, in import order (customers first)
    "customers": "customers.csv",
    "service-records": "service-records.csv",
    "complaints": "complaints.csv",
    "survey-responses": "survey-responses.csv",
}
CUSTOMERS = 2400
CARRY_OVER_DAYS = 60  # calendar kept beyond the last month for late resolutions
DAY = 86_400
HOUR = 3_600

# -- the demo organisation's behaviour --------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How one department behaves in the demo."""

    records_per_workday: float
    off_day_factor: float  # volume on weekends/holidays relative to a working day
    channels: tuple[float, float, float, float]  # share of phone, online, email, onsite
    fcr: float  # chance that the first contact resolves the case
    handling_median_hours: float  # cases not resolved at first contact
    complaints_per_month: float
    responses_per_month: float
    satisfaction: float = 0.0  # shift of the latent satisfaction (standard deviations)


# Complaints are kept at roughly 3-4 per 1,000 records, under the 5 ‰ target of
# config/sqms.yaml; supporting departments serve customers through the others and so
# are rarely complained about (one complaint in a small department is already > 5 ‰).
PROFILES: dict[str, Profile] = {
    "CS": Profile(158, 0.30, (0.55, 0.33, 0.08, 0.04), 0.81, 16, 14.0, 95, 0.12),
    "OPS": Profile(102, 0.25, (0.30, 0.22, 0.13, 0.35), 0.80, 20, 9.0, 70, 0.12),
    "SALES": Profile(40, 0.12, (0.42, 0.25, 0.20, 0.13), 0.80, 22, 3.0, 45, 0.12),
    "GMO": Profile(3.8, 0.03, (0.20, 0.10, 0.50, 0.20), 0.84, 26, 0.04, 20, 0.35),
    "HR": Profile(5.5, 0.03, (0.20, 0.10, 0.50, 0.20), 0.85, 26, 0.04, 20, 0.3),
    "FIN": Profile(6.8, 0.03, (0.25, 0.10, 0.55, 0.10), 0.84, 24, 0.06, 20, 0.3),
    "RND": Profile(9.0, 0.05, (0.15, 0.45, 0.35, 0.05), 0.80, 40, 0.06, 20, 0.3),
    "ADMIN": Profile(6.4, 0.03, (0.25, 0.10, 0.15, 0.50), 0.86, 18, 0.04, 20, 0.35),
}
_OPERATING = Profile(60, 0.2, (0.45, 0.30, 0.15, 0.10), 0.80, 20, 3.0, 60, 0.0)
_SUPPORTING = Profile(6, 0.03, (0.25, 0.10, 0.45, 0.20), 0.84, 24, 0.05, 20, 0.3)
RESPONSE_DRIFT = "OPS"  # answers more slowly, more late complaints
SATISFACTION_DRIFT = "SALES"  # CSAT and NPS fall

# Relative volume by hour of day: peaks around 10:00 and 15:00, a lunch dip, quiet nights.
_RECORD_HOURS = np.array([
    0.03, 0.02, 0.02, 0.02, 0.02, 0.04, 0.10, 0.30, 0.85, 1.35, 1.60, 1.40,
    0.75, 0.95, 1.35, 1.55, 1.30, 1.00, 0.55, 0.35, 0.28, 0.20, 0.12, 0.06])
_COMPLAINT_HOURS = np.array([
    0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.20, 0.80, 1.40, 1.60, 1.30,
    0.60, 0.90, 1.40, 1.50, 1.20, 0.90, 0.40, 0.25, 0.20, 0.15, 0.08, 0.03])
# Surveys are answered after the fact, often in the evening.
_SURVEY_HOURS = np.array([
    0.05, 0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.25, 0.60, 1.00, 1.20, 1.10,
    0.80, 0.90, 1.10, 1.20, 1.05, 0.90, 0.75, 0.80, 0.95, 0.90, 0.55, 0.20])
# Month-of-year seasonality (year-end rush, quieter summer).
_SEASON = {1: 1.00, 2: 0.95, 3: 1.04, 4: 1.00, 5: 0.98, 6: 1.02, 7: 0.97, 8: 0.95, 9: 1.03, 10: 0.98,
           11: 1.08, 12: 1.06}
_WEEKDAY = np.array([1.12, 1.03, 1.00, 0.98, 0.93, 1.0, 1.0])  # Mon..Sun on working days

# First response, per channel (phone, online, email, onsite): lognormal median seconds and
# spread, chosen so that about 3-5 % of phone and online contacts miss their targets.
_RESPONSE_MEDIAN_S = np.array([10.0, 22.0, 1.6 * HOUR, 150.0])
_RESPONSE_SIGMA = np.array([0.50, 0.50, 0.90, 0.70])
_NO_RESPONSE = np.array([0.012, 0.010, 0.015, 0.0])  # abandoned calls, lost chats
_FCR_HANDLING_MEDIAN_S = np.array([6 * 60.0, 12 * 60.0, 1.5 * HOUR, 40 * 60.0])
_FCR_KNOWN = 0.93  # the agent did not always tick the box

CATEGORIES = ("服务态度", "响应不及时", "处理质量", "收费争议", "信息错误", "预约爽约", "设施环境")
_CATEGORY_MIX = {  # per department; default for any other
    "CS": (0.26, 0.28, 0.18, 0.06, 0.12, 0.04, 0.06),
    "OPS": (0.14, 0.18, 0.26, 0.05, 0.08, 0.22, 0.07),
    "SALES": (0.18, 0.10, 0.14, 0.30, 0.20, 0.06, 0.02),
    "FIN": (0.10, 0.10, 0.10, 0.50, 0.20, 0.00, 0.00),
    "ADMIN": (0.15, 0.05, 0.10, 0.00, 0.05, 0.05, 0.60),
}
_DEFAULT_CATEGORY_MIX = (0.22, 0.20, 0.22, 0.08, 0.12, 0.08, 0.08)
_COMPLAINT_CHANNELS = (0.45, 0.30, 0.15, 0.10)
SPECIAL_SHARE = 0.13
_LATE = 0.02
# Wording after the service regulations in /work/shared/seeds (服务禁语, 首问负责制, 预约服务 ...).
_DESCRIPTIONS = {
    "服务态度": ("客服人员语气生硬，对我的问题很不耐烦，还与我发生争执。",
             "上门人员言语不礼貌，没有使用规范服务用语。",
             "电话被多次转接，每个人都说不归自己管，没有做到首问负责。"),
    # by channel: phone, online, email, onsite
    "响应不及时": ("热线电话等待超过5分钟无人接听，打了三次才接通。",
              "在线咨询提交后两个小时没有回复，只能再次来电催促。",
              "邮件反映问题一周了还没有任何答复。",
              "在服务大厅排队一个多小时才办理，窗口只开了一个。"),
    "处理质量": ("同一个问题反映了三次仍未解决，每次都要重新说明情况。",
             "档案调阅结果与申请不符，需要重新办理。",
             "解答前后不一致，按照指引办理后被告知材料不全。"),
    "收费争议": ("上门人员私自收取加急费，且未出具发票。",
             "对账单金额与合同约定不一致，要求核实。",
             "未事先告知会产生额外费用。"),
    "信息错误": ("工单登记的联系电话有误，导致一直联系不到我。",
             "发票抬头开错，要求重新开具。",
             "网站公布的服务时间与实际不符。"),
    "预约爽约": ("约好上午上门，等了一整天没人来，也没有电话通知。",
             "预约的服务时间被推迟两次，都没有提前告知原因。"),
    "设施环境": ("服务大厅等候区座椅不足，环境嘈杂。",
             "无障碍通道被杂物占用，标识也不清楚。"),
}
_DESCRIBED_SHARE = 0.45

_COMMENTS = {
    "positive": ("服务人员很专业，一次就把问题解决了。", "响应很快，态度热情，点赞！", "客服耐心细致，非常满意。",
                 "上门准时，服务规范，谢谢。", "整体体验很好，希望继续保持。"),
    "neutral": ("总体还可以，希望热线高峰期能更快接通。", "办理流程有点繁琐，建议简化。",
                "服务一般，希望提前告知办理进度。", "网站信息更新不及时。"),
    "negative": ("等待时间太长，问题拖了很久才处理。", "态度冷淡，问题没有解决。",
                 "收费不透明，沟通很困难。", "预约了两次都没有按时上门，非常失望。"),
}
# Exactly one comment carries markup, so that a report which forgets to escape shows it.
HTML_COMMENT = "回访邮件里显示了<b>HTML</b>标签，不过客服很耐心。"
_COMMENT_SHARE = 0.14

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红")
_CITIES = ("北京", "上海", "天津", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "苏州", "郑州")
_FIRM_WORDS = ("恒远", "华盛", "宏达", "鑫源", "天成", "中信", "博远", "嘉禾", "瑞丰", "长城", "永信", "金桥",
               "新元", "东方", "汇通", "安泰")
_FIRM_TRADES = ("科技", "贸易", "物流", "档案管理", "信息技术", "建设工程", "医疗器械", "文化传媒", "电子商务")


# -- public functions ---------------------------------------------------------------


def generate_demo(settings: Settings, *, seed: int = DEFAULT_SEED, end_period: str | None = None,
                  out_dir: Path, now: datetime | None = None, months: int = MONTHS) -> dict[str, Path]:
    """Write customers.csv, service-records.csv, complaints.csv and survey-responses.csv to `out_dir`.

    The files cover the `months` (13) calendar months ending with `end_period` (default:
    the month before `now` in the configured timezone) in the formats of DESIGN.md §3.
    The same seed and end_period give byte-identical files (as long as the data do
    not reach "now", which clips them). Returns {import kind: path}.
    """
    now = now or utcnow()
    end_period = end_period or previous_period(now, settings.tz)
    parse_period(end_period)
    if months < 1:
        raise ValueError("months must be at least 1")
    gen = _Generator(settings, seed, end_period, now, months)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = {
        "customers": gen.customers(),
        "service-records": gen.service_records(),
        "complaints": gen.complaints(),
        "survey-responses": gen.survey_responses(),
    }
    paths = {}
    for kind, frame in frames.items():
        path = out_dir / FILES[kind]
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", na_rep="")
        paths[kind] = path
    return paths


def load_demo(settings: Settings, *, seed: int = DEFAULT_SEED, end_period: str | None = None,
              out_dir: Path | None = None, now: datetime | None = None,
              months: int = MONTHS) -> dict[str, ImportResult]:
    """Generate the demo files and import them (customers first) into the migrated database.

    Idempotent: the ids are deterministic and the importer skips identical rows, so a
    second run inserts nothing. Without `out_dir` the files go to a temporary folder.
    """
    from sqms.importers import spec_for
    from sqms.ingest import import_file

    def generate_and_import(folder: Path) -> dict[str, ImportResult]:
        from sqms.monitoring.demo import load_monitoring_demo

        from sqms.monitoring.demo import import_demo_staff

        paths = generate_demo(settings, seed=seed, end_period=end_period, out_dir=folder, now=now, months=months)
        # the staff register first: service records name who served (staff_id)
        results = {"staff": import_demo_staff(settings, folder, seed=seed)}
        results |= {kind: import_file(settings, spec_for(kind), path, actor="demo") for kind, path in paths.items()}
        results |= load_monitoring_demo(settings, folder, seed=seed, months=months, now=now, import_staff=False,
                                        end_period=end_period or previous_period(now or utcnow(), settings.tz))
        return results

    if out_dir is not None:
        return generate_and_import(Path(out_dir))
    with tempfile.TemporaryDirectory(prefix="sqms-demo-") as tmp:
        return generate_and_import(Path(tmp))


# -- the generator ------------------------------------------------------------------


class _Generator:
    """Draws the demo data in a fixed order from one random generator."""

    def __init__(self, settings: Settings, seed: int, end_period: str, now: datetime, months: int = MONTHS):
        self.settings = settings
        self.tz = settings.tz
        self.rng = np.random.default_rng(seed)
        self.months = months
        self.periods = periods_ending(end_period, months)
        first_year, first_month = parse_period(self.periods[0])
        end_year, end_month = parse_period(end_period)
        self.start = date(first_year, first_month, 1)
        self.end = date(end_year + (end_month == 12), end_month % 12 + 1, 1)  # exclusive
        now_local = np.datetime64(to_local(now, self.tz).replace(tzinfo=None), "s")
        if now_local < np.datetime64(date(end_year, end_month, 1), "s"):
            raise ValueError(f"end_period {end_period} lies in the future (the current month is the latest allowed)")
        self.now = float(now_local.astype(np.int64))  # local wall-clock seconds, like every time here
        self.depts = [d.code for d in settings.departments]
        self.profiles = [PROFILES.get(d.code) or (_OPERATING if d.kind == "operating" else _SUPPORTING)
                         for d in settings.departments]
        self.response_drift = _drifting(settings, RESPONSE_DRIFT, 1)
        self.satisfaction_drift = _drifting(settings, SATISFACTION_DRIFT, 2)
        # The calendar runs past the last month so that resolutions can spill over; there a
        # year the official calendar does not know yet is taken as Monday-Friday, silently.
        self.days = pd.date_range(self.start, self.end + timedelta(days=CARRY_OVER_DAYS), freq="D")
        self.n_days = (self.end - self.start).days
        self.working = np.array([
            is_working_day(d.date()) if d.date() < self.end or is_covered(d.date()) else d.weekday() < 5
            for d in self.days])
        self.day_start = self.days.to_numpy().astype("datetime64[s]").astype(np.int64)
        self.month_of_day = np.array([(d.year - first_year) * 12 + d.month - first_month for d in self.days])
        self.off_days_before = np.concatenate([[0], np.cumsum(~self.working)[:-1]])
        self.work_days = np.flatnonzero(self.working)  # day index of the k-th working day
        self.work_rank = np.cumsum(self.working) - 1  # k of the last working day on or before a day
        # day index of the first working day on or after each day
        self.next_working = self.work_days[np.minimum(np.searchsorted(self.work_days, np.arange(len(self.days))),
                                                      len(self.work_days) - 1)]
        index = np.arange(months)
        self.ramp = np.clip((index - (months - 1 - DRIFT_MONTHS)) / DRIFT_MONTHS, 0.0, 1.0)

    # -- shared helpers --

    def _day_index(self, seconds: np.ndarray) -> np.ndarray:
        """Index into `days` of local wall-clock seconds (clipped to the calendar)."""
        return np.clip(((seconds - self.day_start[0]) // DAY).astype(np.int64), 0, len(self.days) - 1)

    def _daily_counts(self, per_workday: np.ndarray, off_factor: np.ndarray,
                      month_factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Poisson counts per (day, department) in the demo months -> (day index, dept index) per item."""
        days = self.days[: self.n_days]
        working = self.working[: self.n_days]
        weekday = _WEEKDAY[days.day_of_week.to_numpy()]
        season = np.array([_SEASON[m] for m in days.month]) * (1 + 0.006 * self.month_of_day[: self.n_days])
        day_weight = np.where(working[:, None], weekday[:, None], off_factor[None, :]) * season[:, None]
        lam = day_weight * per_workday[None, :]
        if month_factor is not None:
            lam = lam * month_factor[self.month_of_day[: self.n_days]]
        counts = self.rng.poisson(lam)
        cells = np.repeat(np.arange(counts.size), counts.ravel())
        return cells // len(self.depts), cells % len(self.depts)

    def _times(self, day: np.ndarray, profile: np.ndarray) -> np.ndarray:
        """Local wall-clock seconds: the day plus an hour drawn from `profile` and a random offset."""
        hour = self.rng.choice(24, size=len(day), p=profile / profile.sum())
        seconds = self.day_start[day] + hour * HOUR + self.rng.integers(0, HOUR, size=len(day))
        # Later times derive from these by adding delays, so fixing DST gaps here keeps the order.
        local = _importable_local(pd.Series(pd.to_datetime(seconds, unit="s")), self.tz)
        return local.astype("datetime64[s]").astype(np.int64).to_numpy().astype(np.float64)

    def _customers_for(self, n: int, anonymous: float) -> np.ndarray:
        """Customer ids, a few frequent customers and a long tail; some contacts are anonymous."""
        index = np.floor(CUSTOMERS * self.rng.random(n) ** 1.7).astype(np.int64) + 1
        ids = np.char.add("CU-", np.char.zfill(index.astype(str), 5)).astype(object)
        ids[self.rng.random(n) < anonymous] = None
        return ids

    def _ids(self, prefix: str, moments: np.ndarray, width: int) -> np.ndarray:
        """`PREFIX-YYYYMM-000123`, numbered in time order within each month."""
        stamps = pd.to_datetime(moments, unit="s")
        month = stamps.strftime("%Y%m").to_numpy()
        number = pd.Series(month).groupby(month, sort=False).cumcount().to_numpy() + 1
        return np.char.add(np.char.add(f"{prefix}-", month.astype(str)),
                           np.char.add("-", np.char.zfill(number.astype(str), width))).astype(object)

    def _clip_to_now(self, *columns: np.ndarray) -> list[np.ndarray]:
        """Whatever lies after now has not happened yet: NaN it (times are float seconds)."""
        return [np.where(c > self.now, np.nan, c) for c in columns]

    def _drift(self, which: int | None, dept: np.ndarray, month: np.ndarray) -> np.ndarray:
        """0..1 per item: how far the drifting department `which` has drifted in the item's month."""
        if which is None:
            return np.zeros(len(dept))
        return np.where(dept == which, self.ramp[month], 0.0)

    def _format(self, seconds: np.ndarray) -> pd.Series:
        """`YYYY-MM-DD HH:MM:SS` local time, empty where missing (importable in the timezone)."""
        values = pd.Series(pd.to_datetime(seconds, unit="s"))
        values = _importable_local(values, self.tz)
        return values.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")

    # -- customers --

    def customers(self) -> pd.DataFrame:
        n = CUSTOMERS
        rng = self.rng
        person = rng.random(n) < 0.35
        surname = np.array(_SURNAMES)[rng.integers(0, len(_SURNAMES), n)]
        given = np.char.add(np.array(_GIVEN)[rng.integers(0, len(_GIVEN), n)],
                            np.where(rng.random(n) < 0.6, np.array(_GIVEN)[rng.integers(0, len(_GIVEN), n)], ""))
        firm = np.char.add(np.char.add(np.array(_CITIES)[rng.integers(0, len(_CITIES), n)],
                                       np.array(_FIRM_WORDS)[rng.integers(0, len(_FIRM_WORDS), n)]),
                           np.char.add(np.array(_FIRM_TRADES)[rng.integers(0, len(_FIRM_TRADES), n)], "有限公司"))
        names = np.where(person, np.char.add(surname, given), firm)
        number = np.arange(1, n + 1)
        ids = np.char.add("CU-", np.char.zfill(number.astype(str), 5))
        email = np.char.add(np.char.add("cu", np.char.zfill(number.astype(str), 5)), "@example.com").astype(object)
        email[rng.random(n) < 0.08] = None  # not every customer left an address
        phone = np.char.add("1", np.char.zfill(rng.integers(3_000_000_000, 9_999_999_999, n).astype(str), 10))
        operating = [i for i, d in enumerate(self.settings.departments) if d.kind == "operating"] or [0]
        dept = np.array(self.depts)[np.array(operating)[rng.integers(0, len(operating), n)]]
        self.home = dept  # each customer's own department (who serves them there: `_served_by`)
        return pd.DataFrame({"customer_id": ids, "name": names, "email": email, "phone": phone, "department": dept})

    # -- service records --

    def service_records(self) -> pd.DataFrame:
        rng = self.rng
        p = self.profiles
        day, dept = self._daily_counts(np.array([x.records_per_workday for x in p]),
                                       np.array([x.off_day_factor for x in p]))
        n = len(day)
        opened = self._times(day, _RECORD_HOURS)
        hour = ((opened - self.day_start[day]) // HOUR).astype(np.int64)
        month = self.month_of_day[day]
        mix = np.cumsum(np.array([x.channels for x in p]), axis=1)
        channel = (rng.random(n)[:, None] > mix[dept]).sum(axis=1).clip(0, 3)

        # Busy hours answer more slowly; the drifting department gets slower month by month.
        busy = _RECORD_HOURS[hour] / _RECORD_HOURS.max()
        drift = self._drift(self.response_drift, dept, month)
        delay = _RESPONSE_MEDIAN_S[channel] * (0.8 + 0.4 * busy) * (1 + 0.9 * drift) * np.exp(
            _RESPONSE_SIGMA[channel] * rng.standard_normal(n))
        no_response = rng.random(n) < _NO_RESPONSE[channel] * (1 + 2 * drift)
        first_response = np.where(no_response, np.nan, opened + np.round(delay))

        fcr_rate = np.array([x.fcr for x in p])[dept] - 0.03 * drift
        fcr = (rng.random(n) < fcr_rate) & ~no_response
        quick = _FCR_HANDLING_MEDIAN_S[channel] * np.exp(0.7 * rng.standard_normal(n))
        slow_h = np.array([x.handling_median_hours for x in p])[dept] * (1 + 0.15 * drift)
        # Cases still open after a month are closed administratively.
        long = np.minimum(slow_h * HOUR * np.exp(0.9 * rng.standard_normal(n)), 30 * DAY)
        handling = np.where(fcr, quick, long)
        start = np.where(no_response, opened, first_response)
        resolved = start + np.round(handling)
        # Cases left open overnight wait over weekends and holidays too.
        waited = self.off_days_before[self._day_index(resolved)] - self.off_days_before[day]
        resolved = np.where(fcr, resolved, resolved + waited * DAY)
        never = rng.random(n) < 0.004
        resolved[never] = np.nan
        known = rng.random(n) < _FCR_KNOWN

        first_response, resolved = self._clip_to_now(first_response, resolved)
        fcr_text = np.where(fcr, "true", "false").astype(object)
        fcr_text[~known | np.isnan(resolved)] = ""  # not (yet) known
        frame = pd.DataFrame({
            "opened": opened, "dept": dept, "channel": channel, "first_response": first_response,
            "resolved": resolved, "fcr": fcr_text, "customer_id": self._customers_for(n, 0.12),
        }).sort_values(["opened", "dept", "channel"], kind="mergesort", ignore_index=True)
        frame["record_id"] = self._ids("SR", frame["opened"].to_numpy(), 6)
        frame = frame[frame["opened"] <= self.now]
        return pd.DataFrame({
            "record_id": frame["record_id"],
            "department": np.array(self.depts)[frame["dept"].to_numpy()],
            "channel": np.array(CHANNELS)[frame["channel"].to_numpy()],
            "customer_id": frame["customer_id"],
            "opened_at": self._format(frame["opened"].to_numpy()).to_numpy(),
            "first_response_at": self._format(frame["first_response"].to_numpy()).to_numpy(),
            "resolved_at": self._format(frame["resolved"].to_numpy()).to_numpy(),
            "first_contact_resolved": frame["fcr"],
            "staff_id": self._served_by(frame["customer_id"].to_numpy(), frame["dept"].to_numpy()),
        })

    def _served_by(self, customers: np.ndarray, dept: np.ndarray) -> np.ndarray:
        """Who served each record (the register's `staff_id`): a customer served in their own department has
        one person there (their 专属客服 / 客户经理, the same every time), so that their survey answers are
        attributable to that person in the staff grading; other contacts name nobody. Derived from the ids,
        not drawn: the rest of the demo stays as it was."""
        from sqms.monitoring.demo import STAFF_PER_DEPARTMENT

        out = np.full(len(customers), "", dtype=object)
        home = getattr(self, "home", None)
        if home is None:
            return out
        known = pd.notna(customers)
        number = np.zeros(len(customers), dtype=np.int64)
        number[known] = [int(c[3:]) for c in customers[known]]
        for d, name in enumerate(self.depts):
            count = STAFF_PER_DEPARTMENT.get(name)
            if not count:
                continue
            mine = known & (dept == d)
            mine[mine] = home[number[mine] - 1] == name
            person = (number[mine] * 7919) % count + 1
            out[mine] = [f"{name}{p:03d}" for p in person]
        return out

    # -- complaints --

    def complaints(self) -> pd.DataFrame:
        rng = self.rng
        p = self.profiles
        per_month = np.array([x.complaints_per_month for x in p])
        # Monthly rate spread over the days (working days busier) -> a rate per working day.
        per_workday = per_month * 12 / _effective_days(0.35)
        factor = np.ones((self.months, len(self.depts)))
        if self.response_drift is not None:
            factor[:, self.response_drift] += 0.6 * self.ramp
        if self.satisfaction_drift is not None:
            factor[:, self.satisfaction_drift] += 0.5 * self.ramp
        day, dept = self._daily_counts(per_workday, np.full(len(self.depts), 0.35), factor)
        n = len(day)
        received = self._times(day, _COMPLAINT_HOURS)
        month = self.month_of_day[day]
        drift_resp = self._drift(self.response_drift, dept, month)
        drift_sat = self._drift(self.satisfaction_drift, dept, month)
        severity = np.where(rng.random(n) < SPECIAL_SHARE, "special", "normal")
        mixes = np.cumsum(np.array([_CATEGORY_MIX.get(d, _DEFAULT_CATEGORY_MIX) for d in self.depts]), axis=1)
        mixes /= mixes[:, -1:]
        category = (rng.random(n)[:, None] > mixes[dept]).sum(axis=1).clip(0, len(CATEGORIES) - 1)
        # A department answering slowly is complained about for exactly that.
        category = np.where(rng.random(n) < 0.5 * drift_resp, CATEGORIES.index("响应不及时"), category)
        channel = (rng.random(n)[:, None] > np.cumsum(_COMPLAINT_CHANNELS)[None, :]).sum(axis=1).clip(0, 3)

        # The complaint line is staffed around the clock (7×24 in the regulation): a first reply
        # within hours, but whoever is on duty at night calls back the next morning.
        delay = np.where(_office_hours(received, self.working[day]), 1.2, 3.0) * HOUR * np.minimum(
            np.exp(0.7 * rng.standard_normal(n)), 6.0)
        responded = np.round(_not_at_night(received + delay, rng.random(n)))

        received_utc = _to_utc(pd.Series(pd.to_datetime(received, unit="s")), self.tz)
        deadline_utc = deadlines_for(received_utc, pd.Series(severity), self.settings)
        deadline = _to_local_seconds(deadline_utc, self.tz)

        # Settled on a working day between the reply and the deadline, or (late) some working
        # days after it; always during office hours.
        late = rng.random(n) < _LATE + 0.12 * drift_resp + 0.05 * drift_sat
        first = self.work_rank[self.next_working[self._day_index(responded)]]
        last_allowed = self.work_rank[self._day_index(deadline)]
        on_time_rank = first + np.floor(rng.beta(1.3, 2.5, n) * (last_allowed - first + 1)).astype(np.int64)
        late_rank = last_allowed + rng.geometric(0.45, n)
        rank = np.clip(np.where(late, late_rank, np.minimum(on_time_rank, last_allowed)), 0,
                       len(self.work_days) - 1)
        resolved = self.day_start[self.work_days[rank]] + 9 * HOUR + np.round(9 * HOUR * rng.random(n))
        resolved = np.maximum(resolved, responded + 600 + np.round(2 * HOUR * rng.random(n)))
        resolved = np.round(_not_at_night(resolved, rng.random(n)))

        # In the last month the recent complaints are partly still open.
        last = month == self.months - 1
        month_end = float(np.datetime64(self.end, "s").astype(np.int64))
        recent = last & (received > month_end - 7 * DAY)
        still_open = rng.random(n) < np.where(recent, 0.35, np.where(last, 0.03, 0.0))
        resolved = np.where(still_open, np.nan, resolved)
        customer = self._customers_for(n, 0.05)
        described = rng.random(n) < _DESCRIBED_SHARE
        pick = rng.random(n)
        description = np.array([  # a few hundred complaints: a loop is fine here
            _description(CATEGORIES[c], ch, u) if d else None
            for c, ch, u, d in zip(category, channel, pick, described, strict=True)
        ], dtype=object)

        responded, resolved = self._clip_to_now(responded, resolved)
        frame = pd.DataFrame({
            "received": received, "dept": dept, "channel": channel, "severity": severity, "category": category,
            "customer_id": customer, "responded": responded, "resolved": resolved, "description": description,
        }).sort_values(["received", "dept"], kind="mergesort", ignore_index=True)
        frame["complaint_id"] = self._ids("CP", frame["received"].to_numpy(), 4)
        frame = frame[frame["received"] <= self.now]
        return pd.DataFrame({
            "complaint_id": frame["complaint_id"],
            "received_at": self._format(frame["received"].to_numpy()).to_numpy(),
            "department": np.array(self.depts)[frame["dept"].to_numpy()],
            "channel": np.array(CHANNELS)[frame["channel"].to_numpy()],
            "severity": frame["severity"],
            "category": np.array(CATEGORIES)[frame["category"].to_numpy()],
            "customer_id": frame["customer_id"],
            "responded_at": self._format(frame["responded"].to_numpy()).to_numpy(),
            "resolved_at": self._format(frame["resolved"].to_numpy()).to_numpy(),
            "description": frame["description"],
        })

    # -- survey responses --

    def survey_responses(self) -> pd.DataFrame:
        rng = self.rng
        p = self.profiles
        per_workday = np.array([x.responses_per_month for x in p]) * 12 / _effective_days(0.45)
        day, dept = self._daily_counts(per_workday, np.full(len(self.depts), 0.45))
        n = len(day)
        submitted = self._times(day, _SURVEY_HOURS)
        month = self.month_of_day[day]
        drift_sat = self._drift(self.satisfaction_drift, dept, month)
        drift_resp = self._drift(self.response_drift, dept, month)

        # One latent satisfaction per respondent drives CSAT, NPS and the items alike.
        shift = np.array([x.satisfaction for x in p])[dept] - 0.65 * drift_sat - 0.15 * drift_resp
        latent = rng.standard_normal(n) + shift
        csat = 1 + np.searchsorted(_CSAT_CUTS, latent)
        nps = np.clip(np.round(8.55 + 1.6 * (0.85 * latent + 0.53 * rng.standard_normal(n))), 0, 10)
        csat_missing = rng.random(n) < 0.02
        nps_missing = rng.random(n) < 0.03

        data: dict[str, object] = {"submitted": submitted, "dept": dept}
        items = _survey_items(self.settings)
        noise = rng.standard_normal((n, len(items)))
        skipped = rng.random((n, len(items))) < 0.07  # some items left blank
        for j, (code, (lo, hi), dimension) in enumerate(items):
            slow = 0.6 * drift_resp if dimension == "responsiveness" else 0.0  # the slowness shows here
            raw = 4.15 + 0.75 * (0.75 * (latent - slow) + 0.66 * noise[:, j])
            value = np.clip(np.round(lo + (raw - 1) * (hi - lo) / 4), lo, hi)
            data[code] = pd.array(np.where(skipped[:, j], np.nan, value), dtype="Float64").astype("Int64")

        tone = np.where(csat >= 4, 0, np.where(csat == 3, 1, 2))
        commented = rng.random(n) < np.where(tone == 0, _COMMENT_SHARE * 0.8, _COMMENT_SHARE * 2)
        pick = rng.random(n)
        pools = [_COMMENTS["positive"], _COMMENTS["neutral"], _COMMENTS["negative"]]
        comment = np.full(n, None, dtype=object)
        for t, pool in enumerate(pools):  # three vectorised picks, one per tone
            mask = commented & (tone == t)
            comment[mask] = np.array(pool, dtype=object)[(pick[mask] * len(pool)).astype(np.int64)]
        data.update(csat=pd.array(np.where(csat_missing, np.nan, csat), dtype="Float64").astype("Int64"),
                    nps=pd.array(np.where(nps_missing, np.nan, nps), dtype="Float64").astype("Int64"),
                    comment=comment, customer_id=self._customers_for(n, 0.2))
        frame = pd.DataFrame(data).sort_values(["submitted", "dept"], kind="mergesort", ignore_index=True)
        frame["response_id"] = self._ids("SV", frame["submitted"].to_numpy(), 5)
        frame = frame[frame["submitted"] <= self.now]
        # The markup comment goes on the first commented response of the last month (or of any).
        commented_rows = frame.index[frame["comment"].notna()]
        in_last = self.month_of_day[self._day_index(frame.loc[commented_rows, "submitted"].to_numpy())] \
            == self.months - 1
        if len(commented_rows):
            frame.loc[commented_rows[in_last][0] if in_last.any() else commented_rows[0], "comment"] = HTML_COMMENT
        out = pd.DataFrame({
            "response_id": frame["response_id"],
            "submitted_at": self._format(frame["submitted"].to_numpy()).to_numpy(),
            "department": np.array(self.depts)[frame["dept"].to_numpy()],
            "customer_id": frame["customer_id"],
            "nps": frame["nps"],
            "csat": frame["csat"],
        })
        for code, _, _ in items:
            out[code] = frame[code]
        out["comment"] = frame["comment"]
        return out


# -- small helpers ------------------------------------------------------------------

# Cut points of the latent satisfaction for CSAT 1..5: a neutral department answers
# 1: 2 %, 2: 3 %, 3: 9 %, 4: 34 %, 5: 52 % (mean ≈ 4.3, top-2 ≈ 86 %).
_CSAT_CUTS = np.array([NormalDist().inv_cdf(q) for q in (0.02, 0.05, 0.14, 0.48)])


def _office_hours(seconds: np.ndarray, working: np.ndarray) -> np.ndarray:
    """Whether local wall-clock seconds fall in office hours (08:30-18:00) of a working day."""
    hour = (seconds % DAY) / HOUR
    return working & (hour >= 8.5) & (hour < 18)


def _not_at_night(seconds: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Times between 22:00 and 08:00 moved to the next morning (08:30-09:30)."""
    hour = (seconds % DAY) / HOUR
    midnight = seconds - seconds % DAY + np.where(hour >= 22, DAY, 0)
    return np.where((hour >= 22) | (hour < 8), midnight + 8.5 * HOUR + u * HOUR, seconds)


def _description(category: str, channel: int, u: float) -> str:
    """A complaint text of the category (for 响应不及时 the one matching the channel)."""
    texts = _DESCRIPTIONS[category]
    return texts[channel] if category == "响应不及时" else texts[int(u * len(texts))]


def _effective_days(off_day_factor: float) -> float:
    """Working-day equivalents in a year (≈ 250 working days plus the weighted rest)."""
    return 250 + off_day_factor * 115


def _drifting(settings: Settings, code: str, fallback_index: int) -> int | None:
    """Index of the department that drifts: `code` if configured, else the n-th operating one."""
    codes = [d.code for d in settings.departments]
    if code in codes:
        return codes.index(code)
    operating = [i for i, d in enumerate(settings.departments) if d.kind == "operating"]
    return operating[fallback_index] if len(operating) > fallback_index else None


def _survey_items(settings: Settings) -> list[tuple[str, tuple[int, int], str | None]]:
    """(code, scale, dimension) of the quarterly questionnaire's items (else of every known item)."""
    questionnaires = load_questionnaires(settings.questionnaires_dir)
    q = questionnaires.get("quarterly") or next(iter(questionnaires.values()), None)
    if q is None:
        return [(code, scale, None) for code, scale in known_items(settings.questionnaires_dir).items()]
    return [(i.code, (q.item_scale(i).min, q.item_scale(i).max), i.dimension) for i in q.items]


def _to_utc(local: pd.Series, tz) -> pd.Series:
    return local.dt.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").dt.tz_convert("UTC").dt.tz_localize(
        None)


def _to_local_seconds(utc: pd.Series, tz) -> np.ndarray:
    local = utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    return local.astype("datetime64[s]").astype(np.int64).to_numpy().astype(np.float64)


def _importable_local(values: pd.Series, tz) -> pd.Series:
    """Move wall-clock times that a DST change makes ambiguous or impossible an hour on.

    The importer rejects such local times; in zones without DST (Asia/Shanghai) this
    changes nothing.
    """
    for _ in range(2):
        bad = values.notna() & values.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").isna()
        if not bad.any():
            break
        values = values.where(~bad, values + pd.Timedelta(hours=1))
    return values
