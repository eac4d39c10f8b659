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
    R.NO_SCHEME: ReasonText(
        "No self-service entry scheme applies to this traveller.", "该旅客不适用自助通关入境政策。"
    ),
    R.BACKEND_UNAVAILABLE: ReasonText(
        "The clearance service could not be reached.", "无法连接通关服务。"
    ),
    R.BACKEND_ERROR: ReasonText("The clearance service returned an error.", "通关服务返回错误。"),
    R.DEVICE_ERROR: ReasonText("A device at the gate failed.", "通道设备故障。"),
    R.TIMEOUT: ReasonText("The step took too long.", "操作超时。"),
    R.TRAVELLER_LEFT: ReasonText("The traveller left the gate.", "旅客已离开通道。"),
}


def reason_text(code: ReasonCode, language: Language = "en") -> str:
    texts = REASON_TEXTS[code]
    return texts.zh if language == "zh" else texts.en
