#!/usr/bin/env node
// The house rules for the docs, checked by `npm run lint`: README.md is at most 300 lines,
// docs/architecture.md at most 40 KB, every src/ file opens with a comment saying what it owns,
// and no page (README.md, docs/*.md) names a private member: those belong beside the code.
//
// A private member is a class member declared `private`, `protected` or `#name` whose name is
// never declared anywhere in src/ as something public (a public member, an interface or type
// field, an export, an object key) nor used as a string (a protocol word). A page names one
// when it appears in inline code (`name`, `x.name`, `name()`).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;
const files = (dir, ext) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, ext);
    return path.endsWith(ext) ? [path] : [];
  });

const sources = files(join(root, 'src'), '.ts');
const privateNames = new Set();
const publicNames = new Set();
/** Class name → the members it hides: `Class.member` or `Class#member` in a page names one. */
const hiddenByClass = new Map();

const nameOf = (node) => {
  if (!node.name) return undefined;
  if (ts.isPrivateIdentifier(node.name)) return { name: node.name.text.slice(1), hidden: true };
  if (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))
    return { name: node.name.text, hidden: false };
  return undefined;
};
const hiddenByModifier = (node) =>
  (ts.getCombinedModifierFlags(node) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !==
  0;

for (const path of sources) {
  const source = ts.createSourceFile(
    path,
    readFileSync(path, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const visit = (node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateLiteralToken(node)
    ) {
      for (const word of node.text.split(/[^A-Za-z0-9_]+/)) if (word) publicNames.add(word);
    }
    const memberLike =
      ts.isPropertyDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node);
    if (memberLike && ts.isClassLike(node.parent)) {
      const named = nameOf(node);
      const hidden = named && (named.hidden || hiddenByModifier(node));
      if (named) (hidden ? privateNames : publicNames).add(named.name);
      const owner = node.parent.name?.text;
      if (hidden && owner) {
        if (!hiddenByClass.has(owner)) hiddenByClass.set(owner, new Set());
        hiddenByClass.get(owner).add(named.name);
      }
    } else if (ts.isParameter(node) && hiddenByModifier(node) && ts.isIdentifier(node.name)) {
      privateNames.add(node.name.text);
    } else if (
      ts.isPropertySignature(node) ||
      ts.isMethodSignature(node) ||
      ts.isPropertyAssignment(node) ||
      ts.isShorthandPropertyAssignment(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isFunctionDeclaration(node) ||
      ts.isClassDeclaration(node) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) ||
      ts.isEnumDeclaration(node) ||
      ts.isEnumMember(node) ||
      ts.isVariableDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isBindingElement(node)
    ) {
      const named = nameOf(node);
      if (named && !named.hidden) publicNames.add(named.name);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
for (const name of publicNames) privateNames.delete(name);

const problems = [];
const pages = [join(root, 'README.md'), ...files(join(root, 'docs'), '.md')];
for (const page of pages) {
  const text = readFileSync(page, 'utf8');
  const where = relative(root, page);
  const spans =
    text
      .replace(/```[\s\S]*?```/g, (block) => '`' + block.replaceAll('`', ' ') + '`')
      .match(/`[^`\n]+`/g) ?? [];
  const named = new Set();
  for (const span of spans) {
    for (const word of span.slice(1, -1).split(/[^A-Za-z0-9_#]+/)) {
      const bare = word.replace(/^#/, '');
      if (privateNames.has(bare)) named.add(bare);
    }
    for (const [, owner, member] of span.matchAll(
      /\b([A-Z][A-Za-z0-9]*)[.#]([A-Za-z_][A-Za-z0-9_]*)/g,
    )) {
      if (hiddenByClass.get(owner)?.has(member)) named.add(`${owner}.${member}`);
    }
    for (const [, member] of span.matchAll(/(?:^|[^A-Za-z0-9_])#([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if ([...hiddenByClass.values()].some((hidden) => hidden.has(member))) named.add(`#${member}`);
    }
  }
  if (named.size > 0)
    problems.push(`${where} names private members: ${[...named].sort().join(', ')}`);
}

const readmeLines = readFileSync(join(root, 'README.md'), 'utf8').split('\n').length - 1;
if (readmeLines > 300) problems.push(`README.md is ${readmeLines} lines (at most 300)`);
const architecture = statSync(join(root, 'docs', 'architecture.md')).size;
if (architecture > 40 * 1024)
  problems.push(`docs/architecture.md is ${architecture} bytes (at most 40 KB)`);

for (const path of sources) {
  const head = readFileSync(path, 'utf8').trimStart();
  if (!head.startsWith('//') && !head.startsWith('/*')) {
    problems.push(`${relative(root, path)} does not open with a comment on what it owns`);
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  process.exit(1);
}
console.log(
  `docs: ${pages.length} pages, ${sources.length} sources, ${privateNames.size} private names unnamed`,
);
