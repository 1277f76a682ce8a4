/** The dashboard's words in Chinese and English; the choice is kept in localStorage. */
import { createContext, useContext } from 'react';

export type Lang = 'zh' | 'en';

const WORDS = {
  title: { zh: 'CityPivot 城市运行中心', en: 'CityPivot city operations' },
  username: { zh: '用户名', en: 'Username' },
  password: { zh: '密码', en: 'Password' },
  login: { zh: '登录', en: 'Log in' },
  logout: { zh: '退出', en: 'Log out' },
  loginFailed: { zh: '登录失败', en: 'Login failed' },
  map: { zh: '城市地图', en: 'City map' },
  explorer: { zh: '实体浏览', en: 'Entity explorer' },
  devices: { zh: '设备', en: 'Devices' },
  feed: { zh: '实时动态', en: 'Live feed' },
  live: { zh: '实时', en: 'live' },
  offlineStream: { zh: '连接中断', en: 'reconnecting' },
  avgSpeed: { zh: '平均车速 km/h', en: 'Average speed km/h' },
  pm25: { zh: 'PM2.5 均值 µg/m³', en: 'PM2.5 mean µg/m³' },
  freeSpots: { zh: '空闲泊位', en: 'Free parking spaces' },
  online: { zh: '在线设备', en: 'Devices online' },
  events: { zh: '事件/分钟', en: 'Events/min' },
  type: { zh: '类型', en: 'Type' },
  idContains: { zh: 'ID 包含', en: 'ID contains' },
  search: { zh: '查询', en: 'Search' },
  attribute: { zh: '属性', en: 'Attribute' },
  value: { zh: '值', en: 'Value' },
  history: { zh: '最近两小时', en: 'Last two hours' },
  chart: { zh: '曲线', en: 'Chart' },
  noHistory: { zh: '暂无历史数据', en: 'No history yet' },
  device: { zh: '设备编号', en: 'Device' },
  entity: { zh: '实体', en: 'Entity' },
  health: { zh: '状态', en: 'State' },
  received: { zh: '接收', en: 'Received' },
  accepted: { zh: '接受', en: 'Accepted' },
  rejected: { zh: '拒绝', en: 'Rejected' },
  lastSeen: { zh: '最近上报', en: 'Last seen' },
  lastError: { zh: '最近错误', en: 'Last error' },
  filter: { zh: '筛选', en: 'Filter' },
  loading: { zh: '加载中…', en: 'Loading…' },
  roads: { zh: '路段', en: 'road segments' },
  sensors: { zh: '传感器', en: 'sensors' },
  open: { zh: '查看', en: 'Open' },
  none: { zh: '无', en: 'none' },
  congestion: { zh: '拥堵等级 (GB/T 33171)', en: 'Congestion (GB/T 33171)' },
  level0: { zh: '畅通', en: 'free' },
  level1: { zh: '基本畅通', en: 'mostly free' },
  level2: { zh: '轻度拥堵', en: 'light' },
  level3: { zh: '中度拥堵', en: 'moderate' },
  level4: { zh: '严重拥堵', en: 'severe' },
} as const;

export type Word = keyof typeof WORDS;

export const LangContext = createContext<Lang>('zh');

export function useT(): (w: Word) => string {
  const lang = useContext(LangContext);
  return (w) => WORDS[w][lang];
}

export function initialLang(): Lang {
  const held = localStorage.getItem('citypivot.lang');
  if (held === 'zh' || held === 'en') return held;
  return navigator.language.startsWith('zh') ? 'zh' : 'en';
}
