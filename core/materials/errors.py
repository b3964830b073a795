"""Why a file is refused, and what the merchant is told (polite, in Chinese)."""

from __future__ import annotations

# reason → what the merchant reads. ``detail`` (English, for the log) never reaches them.
MESSAGES: dict[str, str] = {
    "empty": "没有收到文件内容，请重新选择文件再发一次。",
    "too_large": "文件太大，单个文件最多 {max_mb} MB。可以压缩一下或截图后再发。",
    "wrong_type": "只支持图片和PDF（JPG、PNG、WebP 图片或 PDF 文件），请换成这几种格式再发。",
    "unreadable": "这个文件打不开，可能已经损坏。请重新拍照或重新导出后再发。",
    "unsafe": "文件没通过安全检查，不能提交。请换一份文件（比如重新拍照或重新导出PDF）再发。",
    "pdf_active": "文件没通过安全检查：这个PDF带有脚本、附件或加密，不能提交。"
                  "请用“打印为PDF”重新导出，或截图后再发。",
    "infected": "文件没通过安全检查，不能提交。请换一份文件再发；如果文件来自别人，请先别打开它。",
    "too_many": "这份申诉的材料已经有 {max_files} 份了，达到上限。还需要补充的话，请联系客服 95017。",
    "no_appeal": "你还没有进行中的申诉。先说“我要申诉”提交申诉，再发材料。",
    "not_verified": "上传材料前需要先核对身份。请先说“查我的账户状态”完成核对。",
    "expired": "这张图片发出已经超过3天，微信那边已经取不到了，请重新发一次。",
    "expired_file": "这个文件发出已经超过3天，微信那边已经取不到了，请重新发一次。",
    "no_media": "这个文件没能从微信取到。请重新发一次，或者拍照、截图后以图片发过来。",
    "unavailable": "文件暂时没能保存，请稍后再发一次。着急的话可以拨打微信支付客服 95017。",
}


class Refused(Exception):
    """The file is not taken: ``reason`` is a key of MESSAGES, ``detail`` for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def message_for(reason: str, max_file_bytes: int = 0, max_files: int = 0) -> str:
    text = MESSAGES.get(reason, MESSAGES["unsafe"])
    return text.format(max_mb=max(1, max_file_bytes // (1024 * 1024)), max_files=max_files)
