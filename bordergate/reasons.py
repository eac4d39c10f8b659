"""Plain-language texts for every reason code: English and Chinese, in one table.

Officers read these on the lane console; travellers see a short form on the kiosk page. A new
``ReasonCode`` without texts here fails the tests.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from bordergate.contracts import ReasonCode

Language = Literal["en", "zh"]


class ReasonText(NamedTuple):
    en: str
    zh: str


R = ReasonCode

REASON_TEXTS: dict[ReasonCode, ReasonText] = {
    R.DOCUMENT_UNREADABLE: ReasonText("The passport could not be read.", "无法读取护照。"),
    R.CHIP_UNREADABLE: ReasonText(
        "The passport's chip could not be read or checked.", "无法读取或核验护照芯片。"
    ),
    R.DOCUMENT_INVALID: ReasonText(
        "The passport's data failed its security checks.", "护照数据未通过安全校验。"
    ),
    R.DOCUMENT_EXPIRED: ReasonText("The passport has expired.", "护照已过期。"),
    R.DOCUMENT_VALIDITY_SHORT: ReasonText(
        "The passport is not valid long enough after entry.", "护照入境后有效期不足。"
    ),
    R.FACE_NOT_CAPTURED: ReasonText("The face could not be captured.", "未能采集到面部图像。"),
    R.FACE_MISMATCH: ReasonText(
        "The face does not match the passport photo.", "面部与护照照片不符。"
    ),
    R.LIVENESS_FAILED: ReasonText("The live-person check failed.", "活体检测未通过。"),
    R.JOURNEY_MISSING: ReasonText(
        "No onward ticket or cruise boarding card was presented.", "未出示联程客票或邮轮登船卡。"
    ),
    R.JOURNEY_INVALID: ReasonText(
        "A boarding pass or cruise card was invalid or belongs to someone else.",
        "登机牌或邮轮登船卡无效或不属于本人。",
    ),
    R.NO_SCHEME: ReasonText(
        "No self-service entry scheme applies to this traveller.", "该旅客不适用自助通关入境政策。"
    ),
    R.BACKEND_UNAVAILABLE: ReasonText(
        "The clearance service could not be reached.", "无法连接通关服务。"
    ),
    R.BACKEND_ERROR: ReasonText("The clearance service returned an error.", "通关服务返回错误。"),
    R.DEVICE_NOT_AUTHORISED: ReasonText(
        "The clearance service refused this gate's device token (unknown, revoked or wrong lane).",
        "通关服务拒绝了本通道的设备令牌。设备未知、已吊销或通道不符。",
    ),
    R.DEVICE_ERROR: ReasonText("A device at the gate failed.", "通道设备故障。"),
    R.DEVICE_UNRESPONSIVE: ReasonText(
        "A device at the gate stopped responding.", "通道设备无响应。"
    ),
    R.SESSION_ABANDONED: ReasonText(
        "The gate's kiosk stopped in the middle of this traveller's transaction.",
        "通道终端在该旅客办理过程中中断运行。",
    ),
    R.TIMEOUT: ReasonText("The step took too long.", "操作超时。"),
    R.TRAVELLER_LEFT: ReasonText("The traveller left the gate.", "旅客已离开通道。"),
    R.NATIONALITY_NOT_ELIGIBLE: ReasonText(
        "This nationality is not eligible for the scheme on the arrival date.",
        "该国籍在入境之日不适用此免签政策。",
    ),
    R.PORT_NOT_DESIGNATED: ReasonText(
        "This port is not designated for the scheme.", "本口岸不是该政策的指定口岸。"
    ),
    R.SCHEME_NOT_IN_FORCE: ReasonText(
        "The scheme was not in force at the time of arrival.", "入境时该政策尚未实施或已停止。"
    ),
    R.DOCUMENT_TYPE_NOT_ACCEPTED: ReasonText(
        "This type of travel document is not accepted for self-service entry under the scheme.",
        "该类旅行证件不适用此政策的自助通关。",
    ),
    R.RECORD_BARRED: ReasonText(
        "The traveller is barred from entry by law.", "该旅客属于依法不准入境人员。"
    ),
    R.RECORD_VISA_REFUSAL: ReasonText(
        "There is a refusal record from the Chinese visa authorities.",
        "有被中国签证机关拒签的记录。",
    ),
    R.RECORD_VIOLATION_5Y: ReasonText(
        "There is a record of illegal entry, exit, stay or work in China within five years.",
        "五年内有在华非法入境、出境、居留或就业记录。",
    ),
    R.VISA_NOT_VALID: ReasonText(
        "The Chinese visa is not valid on the arrival date.", "中国签证在入境之日不在有效期内。"
    ),
    R.VISA_NO_ENTRIES: ReasonText(
        "The Chinese visa has no entries left.", "中国签证已无剩余入境次数。"
    ),
    R.ONWARD_NOT_CONFIRMED: ReasonText(
        "The onward ticket has no confirmed date and seat.", "联程客票未确定日期和座位。"
    ),
    R.ONWARD_TO_MAINLAND: ReasonText(
        "The onward journey goes to mainland China, not to a third country or region.",
        "后续行程前往中国内地,而非第三国或地区。",
    ),
    R.ONWARD_BEFORE_ARRIVAL: ReasonText(
        "The departure is before the arrival.", "离境时间早于入境时间。"
    ),
    R.ONWARD_AFTER_LIMIT: ReasonText(
        "The onward departure is after the permitted stay ends.", "离境时间晚于允许停留期限。"
    ),
    R.ROUTE_FROM_MAINLAND: ReasonText(
        "The traveller did not arrive from another country or region.",
        "旅客并非从其他国家或地区抵达。",
    ),
    R.ROUTE_ROUND_TRIP: ReasonText(
        "The onward destination is the country or region the traveller came from.",
        "后续目的地与出发国家或地区相同(往返行程)。",
    ),
    R.CRUISE_NOT_ON_MANIFEST: ReasonText(
        "The traveller is not on the cruise group's name list.", "旅客不在邮轮旅游团名单上。"
    ),
    R.CRUISE_AGENCY_UNLICENSED: ReasonText(
        "The receiving travel agency is not licensed.", "接待旅行社不具备相应资质。"
    ),
    R.CRUISE_GROUP_TOO_SMALL: ReasonText(
        "The cruise tour group is smaller than two people.", "邮轮旅游团人数不足两人。"
    ),
    R.CRUISE_NOT_LEAVING_WITH_SHIP: ReasonText(
        "The traveller is not leaving China on the same ship.", "旅客不随原邮轮离境。"
    ),
    R.CRUISE_DEPARTS_AFTER_LIMIT: ReasonText(
        "The ship departs after the permitted stay ends.", "邮轮离港时间晚于允许停留期限。"
    ),
}


def reason_text(code: ReasonCode, language: Language = "en") -> str:
    texts = REASON_TEXTS[code]
    return texts.zh if language == "zh" else texts.en
