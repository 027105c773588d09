//! Chinese and English: the viewer's language, and every label in both.
//!
//! The language comes from `?lang=zh|en` (which also sets a cookie), else
//! the `lang` cookie, else the browser's `Accept-Language`. Each label is a
//! variant of [`L`]; the table below gives both texts, so a label cannot
//! exist in one language only. Sentences with values in them (the
//! timeline, statuses) are built in `describe.rs`, also in both languages.

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The code used in `?lang=`, the cookie and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The language named by `?lang=` or the cookie.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The first of English or Chinese in an `Accept-Language` header
    /// (quality values are not weighed: browsers list the preferred first).
    pub fn from_accept_language(header: &str) -> Lang {
        for range in header.split(',') {
            let tag = range
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("zh") {
                return Lang::Zh;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// The other language (the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The language's own name, as the switch shows it.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "中文",
        }
    }

    /// Picks the text of this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

macro_rules! labels {
    ($($name:ident => $en:literal, $zh:literal;)*) => {
        /// A label of the pages, in both languages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum L { $($name),* }

        impl L {
            /// The label in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match self { $(L::$name => lang.pick($en, $zh)),* }
            }

            /// Every label (for the completeness test).
            #[cfg(test)]
            pub const ALL: &'static [L] = &[$(L::$name),*];
        }
    };
}

labels! {
    SiteName => "Oil receipt-pledge registry", "油品仓单质押登记簿";
    ReadOnly => "read-only", "只读";
    NavSearch => "Look up", "查询";
    NavChain => "Chain", "账链";
    NavEvidence => "Verify evidence", "核验证据";
    NavRegulator => "For regulators", "监管";
    SearchPlaceholder => "Receipt id, e.g. WR-0001 (or a pledge, tank, participant id, entry number)", "仓单编号，如 WR-0001（或质押、储罐、参与方编号、条目序号）";
    SearchButton => "Look up", "查询";
    Ledger => "Ledger", "账本";
    NodeKey => "Node public key", "节点公钥";
    Entries => "Entries", "条目数";
    Version => "Node version", "节点版本";
    Receipt => "Receipt", "仓单";
    Receipts => "Receipts", "仓单";
    Status => "Status", "状态";
    Holder => "Holder", "持有人";
    Warehouse => "Warehouse", "仓库";
    Tank => "Tank", "储罐";
    Grade => "Grade", "品级";
    Specification => "Specification", "规格";
    Quantity => "Quantity", "数量";
    Customs => "Customs status", "海关状态";
    Bonded => "bonded", "保税";
    DutyPaid => "duty paid", "完税";
    CustomsReference => "Customs reference", "海关编号";
    Certificate => "Inspection certificate", "检验证书";
    Issued => "Issued", "签发";
    Expires => "Expires", "到期";
    LossAllowance => "Loss allowance", "损耗允许";
    Insurance => "Insurance", "保险";
    ParentReceipt => "Split from", "拆分自";
    SplitInto => "Split into", "拆分为";
    ActivePledge => "Active pledge", "有效质押";
    NoActivePledge => "No pledge in force.", "当前无有效质押。";
    Pledges => "Pledges registered on this receipt", "该仓单的质押登记";
    History => "History", "历史";
    HistoryNote => "Every entry that changed this receipt, newest first.", "改变该仓单的每一条目，最新在前。";
    EarlierNotShown => "earlier entries not shown", "条更早的条目未显示";
    Entry => "Entry", "条目";
    Time => "Time", "时间";
    What => "What happened", "事项";
    Signers => "Signed by", "签署方";
    Pledge => "Pledge", "质押";
    Pledgee => "Pledgee (bank)", "质权人（银行）";
    Pledgor => "Pledgor", "出质人";
    SecuredAmount => "Secured amount", "担保金额";
    LoanReference => "Loan reference", "贷款编号";
    Registered => "Registered", "登记";
    Maturity => "Maturity", "到期日";
    Ended => "Ended", "终止";
    Transferee => "Receipt went to", "仓单转归";
    PledgeActive => "in force", "有效";
    PledgeReleased => "released", "已解除";
    PledgeEnforced => "enforced", "已实现";
    Capacity => "Capacity", "容量";
    Certified => "Certified stock", "核证库存";
    Measured => "Measured (re-gauged)", "实测（复尺）";
    NotMeasured => "no re-gauge recorded on this ledger", "本账本未记录复尺";
    Receipted => "Receipted (live receipts)", "已出仓单（有效）";
    Pledged => "Pledged", "已质押";
    Product => "Product", "油品";
    ReceiptsOnTank => "Receipts drawn on this tank", "该储罐的仓单";
    NextPage => "Next page", "下一页";
    FirstPage => "First page", "第一页";
    NoReceipts => "No receipts.", "无仓单。";
    AtLeast => "at least: more receipts than this page adds up", "至少：仓单数超过本页统计上限";
    RegisteredAt => "Registered at entry", "登记于条目";
    Participant => "Participant", "参与方";
    Name => "Name", "名称";
    Roles => "Roles", "角色";
    PublicKey => "Public key", "公钥";
    Admitted => "Admitted at entry", "准入于条目";
    KeySince => "Key since entry", "密钥启用于条目";
    Revoked => "Revoked at entry", "撤销于条目";
    NotRevoked => "not revoked", "未撤销";
    TanksOfWarehouse => "Tanks (found through its receipts)", "储罐（据其仓单）";
    ReceiptsIssued => "Receipts issued", "签发的仓单";
    ReceiptsHeld => "Receipts held", "持有的仓单";
    ReceiptsPledgedTo => "Receipts pledged to this bank", "质押给该银行的仓单";
    LatestEntries => "Latest entries", "最新条目";
    FollowingLive => "following live", "实时更新";
    Paused => "paused", "已暂停";
    Operation => "Operation", "操作";
    Checkpoint => "Latest signed checkpoint", "最新签名检查点";
    TreeSize => "Tree size", "树大小";
    MerkleRoot => "Merkle root", "默克尔根";
    ChainHead => "Chain head", "链头";
    StateRoot => "State root (receipts and tanks)", "状态根（仓单与储罐）";
    CheckpointTime => "Signed at", "签署时间";
    NoteText => "Signed note", "签名记录";
    Signatures => "Signatures", "签名";
    KeyName => "Key name", "密钥名";
    KeyId => "Key id", "密钥标识";
    NodeSignature => "node signature: verifies", "节点签名：验证通过";
    Cosignature => "cosignature (witness)", "见证人联署";
    NoCosignatures => "No witness has cosigned this checkpoint.", "尚无见证人联署此检查点。";
    NoCheckpoint => "No checkpoint has been signed yet.", "尚未签署检查点。";
    Previous => "Previous", "上一条";
    Next => "Next", "下一条";
    EntryHash => "Entry hash", "条目哈希";
    LeafHash => "Leaf hash (Merkle)", "叶哈希（默克尔）";
    PrevHash => "Previous entry hash", "前一条目哈希";
    Seal => "Node seal", "节点封印";
    SealVerifies => "verifies under the node key", "经节点公钥验证通过";
    SealFails => "DOES NOT VERIFY under the node key", "节点公钥验证失败";
    RefusedAttempt => "Refused attempt, recorded: nothing was applied", "已记录的被拒尝试：未生效";
    TxId => "Transaction id", "交易编号";
    ValidFrom => "Valid from (signed)", "签署的生效时间";
    ValidUntil => "Valid until (signed)", "签署的失效时间";
    TxHash => "Transaction hash", "交易哈希";
    Decoded => "Decoded transaction", "解码后的交易";
    Signer => "Signer", "签署方";
    Signature => "Signature", "签名";
    EvidenceTitle => "Verify an evidence bundle", "核验证据包";
    EvidenceIntro => "A bundle from `pledgectl receipt prove` is checked here, in your browser, with SHA-256 and Ed25519 (Web Crypto): the checkpoint signature, every entry's seal, its inclusion under the signed Merkle root, every party's signature, and the receipt's history. The file never leaves this computer.", "由 `pledgectl receipt prove` 生成的证据包在您的浏览器中核验（Web Crypto 的 SHA-256 与 Ed25519）：检查点签名、每条目的节点封印、其在签名默克尔根下的包含证明、各方签名及仓单历史。文件不会离开本机。";
    EvidenceKeyNote => "Paste the node's public key as you obtained it out of band (from the registry operator's notice, not from a bundle or from this page). Pinning keeps it in this browser.", "请粘贴您通过独立渠道获得的节点公钥（如登记簿运营方的公告，而非证据包或本页）。固定后保存在本浏览器中。";
    NodeReports => "This node reports its key as", "本节点自报公钥为";
    PinKey => "Pin this key", "固定此公钥";
    ForgetKey => "Forget the pinned key", "清除已固定的公钥";
    DropBundle => "Drop a bundle file here, or choose one", "将证据包文件拖放到此处，或选择文件";
    NeedsScript => "Verification runs in the browser: enable JavaScript.", "核验在浏览器中进行：请启用 JavaScript。";
    RegulatorTitle => "For regulators", "监管视图";
    Alerts => "Alerts (early warning)", "预警";
    AlertsNotServed => "This node serves no early-warning alerts yet: refused fraud attempts, tank shortfalls, pledges past maturity and collateral value will appear here once the ledger records them.", "本节点尚未提供预警：被拒绝的欺诈尝试、储罐短缺、逾期质押及押品价值预警将在账本记录后显示于此。";
    CurrentFacts => "From the current state", "当前状态";
    FrozenReceipts => "Frozen receipts", "冻结的仓单";
    PastMaturity => "Pledges past maturity, not released", "已过到期日未解除的质押";
    ExpiringPledged => "Pledged receipts expiring within 30 days", "30 天内到期的已质押仓单";
    None => "None.", "无。";
    PerWarehouse => "Per warehouse", "按仓库";
    PerBank => "Per bank", "按银行";
    LiveReceipts => "Live receipts", "有效仓单";
    PledgedReceipts => "Pledged receipts", "已质押仓单";
    Exposure => "Exposure (active pledges)", "敞口（有效质押）";
    Frozen => "Frozen", "冻结";
    FiguresScope => "Computed from the live receipts the node lists", "根据节点列出的有效仓单计算";
    FiguresCapped => "only the first receipts are counted; the figures are lower bounds", "仅统计前若干仓单；数字为下限";
    NotFound => "Not found", "未找到";
    BadRequest => "Not a valid request", "请求无效";
    Forbidden => "Not allowed", "不允许";
    TooMany => "Too many requests", "请求过多";
    Unavailable => "The node cannot answer now", "节点暂时无法应答";
    Failed => "Something went wrong", "出错了";
    Home => "Home", "首页";
    HomeIntro => "Look a receipt up before lending: who holds it, whether it is pledged or frozen, its history on the signed ledger, and the evidence to keep.", "放款前查询仓单：持有人、是否已质押或冻结、其在签名账本上的历史，以及可留存的证据。";
    UtcHint => "Times are shown in your time zone; hover for UTC.", "时间以您所在时区显示；悬停可见 UTC。";
    Amount => "Amount", "金额";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_two_texts() {
        for label in L::ALL {
            let (en, zh) = (label.text(Lang::En), label.text(Lang::Zh));
            assert!(!en.is_empty() && !zh.is_empty(), "{label:?}");
            assert_ne!(en, zh, "{label:?} is not translated");
        }
    }

    #[test]
    fn accept_language_picks_the_first_known() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language("en-GB, zh;q=0.5"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr, de"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }
}
