import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError, commandExists } from './proc';

/**
 * Resolves a server's jars from Maven Central with the project's own pom (deploy/local/<name>/pom.xml)
 * and returns the classpath. Maven caches the jars in ~/.m2; we cache the computed classpath and skip
 * Maven entirely when every jar on it is still there, so a warm start costs no JVM for Maven.
 */
export async function resolveClasspath(root: string, stateDir: string, name: string, say: (line: string) => void): Promise<string> {
  const pom = join(root, 'deploy', 'local', name, 'pom.xml');
  const out = join(stateDir, name, 'classpath.txt');
  if (existsSync(out)) {
    const cp = readFileSync(out, 'utf8').trim();
    if (cp && cp.split(':').every((jar) => existsSync(jar))) return cp;
  }
  if (!commandExists('mvn')) {
    throw new StackError('MAVEN_MISSING', name, 'Apache Maven (mvn) is not installed; run `bash scripts/prereqs.sh` (installs Debian package maven)');
  }
  mkdirSync(join(stateDir, name), { recursive: true });
  say(`${name}: resolving jars from Maven Central (first run downloads them; cached in ~/.m2)…`);
  const logFile = join(stateDir, name, 'maven.log');
  const { createWriteStream } = await import('node:fs');
  const log = createWriteStream(logFile);
  let downloaded = 0;
  let lastReport = Date.now();
  const code = await new Promise<number>((resolve, reject) => {
    const mvn = spawn('mvn', ['-B', '-f', pom, 'dependency:build-classpath', `-Dmdep.outputFile=${out}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      const text = chunk.toString();
      downloaded += text.split('Downloaded from').length - 1;
      if (Date.now() - lastReport > 3000) {
        lastReport = Date.now();
        say(`${name}: ${downloaded} files downloaded so far…`);
      }
    };
    mvn.stdout.on('data', onData);
    mvn.stderr.on('data', onData);
    mvn.once('error', reject);
    mvn.once('close', (c) => resolve(c ?? 1));
  });
  log.end();
  if (code !== 0 || !existsSync(out)) {
    throw new StackError('DOWNLOAD_FAILED', name, `Maven could not resolve ${pom} (exit ${code}); is Maven Central reachable?`, logFile);
  }
  if (downloaded > 0) say(`${name}: ${downloaded} files downloaded`);
  return readFileSync(out, 'utf8').trim();
}
