// The widget's Chinese strings, imported by i18n.js's loadStrings() only for a visitor who
// reads Chinese: the keys of STRINGS.en in i18n.js.

export default {
  title: "在线客服", close: "关闭聊天", send: "发送",
  consent: "开始聊天前，请同意我们处理您数据的方式。", privacy: "隐私声明", accept: "同意",
  placeholder: "请输入消息…", human: "转人工客服", you: "我", bot: "智能客服",
  queue: "您排在第 {p} 位", eta: "约 {m} 分钟", eta_unknown: "正在等待客服",
  connecting: "正在为您转接客服…",
  joined: "{a} 已加入对话", typing: "{a} 正在输入…", ended: "对话已结束",
  read: "已读", sent: "已发送", sending: "发送中", failed: "发送失败",
  offline: "正在重新连接…",
  name: "姓名", email: "邮箱", topic: "主题", start: "开始聊天", skip: "跳过",
  message: "留言", transcript: "下载聊天记录", new_chat: "新对话",
  end: "结束对话", attach: "添加附件",
  unread: "在线客服，{n} 条新消息",
};
