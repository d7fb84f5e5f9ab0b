// Syntax colouring for the source view: SQL and Python, comments, strings, keywords, numbers.
import { esc } from "./dom";

const SQL = new Set(
  "select from where insert into values update set delete create table index unique primary key foreign references alter add drop column constraint not null default on and or as join left right inner outer group by order having limit begin commit rollback transaction view trigger if exists cascade integer int text varchar boolean timestamp serial bigint real numeric concurrently".split(" "),
);
const PY = new Set(
  "def return import from as if elif else for while in is not and or None True False class pass with try except finally raise lambda yield global nonlocal assert del break continue async await".split(" "),
);

export function highlight(text: string, language: string): string[] {
  const words = language === "python" ? PY : SQL;
  const comment = language === "python" ? /#.*$/ : /--.*$/;
  const token = new RegExp(
    `(${comment.source})|("""[\\s\\S]*?"""|'(?:[^'\\\\]|\\\\.)*'|"(?:[^"\\\\]|\\\\.)*")|(\\b\\d+(?:\\.\\d+)?\\b)|([A-Za-z_][A-Za-z0-9_]*)`,
    "g",
  );
  return text.split("\n").map((line) => {
    let out = "";
    let last = 0;
    for (const m of line.matchAll(token)) {
      out += esc(line.slice(last, m.index));
      const [all, c, s, n, w] = m;
      if (c) out += `<span class="tok-comment">${esc(c)}</span>`;
      else if (s) out += `<span class="tok-string">${esc(s)}</span>`;
      else if (n) out += `<span class="tok-number">${esc(n)}</span>`;
      else if (w && words.has(language === "python" ? w : w.toLowerCase())) out += `<span class="tok-keyword">${esc(w)}</span>`;
      else out += esc(all);
      last = (m.index ?? 0) + all.length;
    }
    return out + esc(line.slice(last));
  });
}
