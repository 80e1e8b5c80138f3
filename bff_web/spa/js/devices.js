// "Chrome on Windows" from a User-Agent string: enough to tell one's own devices apart.

const SYSTEMS = [
  [/iPhone/, "iPhone"], [/iPad/, "iPad"], [/Android/, "Android"], [/CrOS/, "ChromeOS"],
  [/Windows/, "Windows"], [/Mac OS X|Macintosh/, "macOS"], [/iOS/, "iOS"], [/Linux/, "Linux"],
];
const BROWSERS = [
  [/Edg(A|iOS)?\//, "Edge"], [/OPR\//, "Opera"], [/SamsungBrowser\//, "Samsung Internet"],
  [/Firefox\/|FxiOS\//, "Firefox"], [/Chrome\/|CriOS\/|Chromium\//, "Chrome"],
  [/Version\/[\d.]+.*Safari\//, "Safari"],
];

function first(table, userAgent) {
  const found = table.find(([pattern]) => pattern.test(userAgent));
  return found ? found[1] : null;
}

export function deviceName(userAgent, kind) {
  const ua = userAgent || "";
  const system = first(SYSTEMS, ua);
  if (kind === "mobile") {
    const app = /^Mozilla\//.test(ua) ? null : /^([\w.-]+)(?:\/([\w.-]+))?/.exec(ua);
    const name = app ? [app[1], app[2]].filter(Boolean).join(" ") : "Shop app";
    return system ? `${name} on ${system}` : name;
  }
  const browser = first(BROWSERS, ua) || (ua ? "A browser" : "Unknown browser");
  return system ? `${browser} on ${system}` : browser;
}
