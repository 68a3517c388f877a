// A warm javac for invoke dev's live update (stagingkub/dev/javac_server.py starts it with
// `java LiveJavac.java`). It reads requests on stdin, one javac argument a line: the
// options, a line "\0sources", the source files, and an empty line to end the request.
// It compiles them in this JVM with the JDK's own compiler and answers with javac's
// messages and a last line "\0exit N". One file manager serves every request, so the
// dependency jars stay open and indexed, and the compiler is JIT-compiled after a few
// requests: a small module compiles in about 50 ms instead of a new javac's 0.8 to 1.7 s.
// Stdin closed (dev gone) ends it.
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

public final class LiveJavac {
  public static void main(String[] ignored) throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    if (javac == null) {
      out.println("\0exit 3 this Java runtime has no compiler (a JRE, not a JDK)");
      return;
    }
    StandardJavaFileManager files =
        javac.getStandardFileManager(null, null, StandardCharsets.UTF_8);
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    List<String> args = new ArrayList<>();
    for (String line; (line = in.readLine()) != null; ) {
      if (!line.isEmpty()) {
        args.add(line);
        continue;
      }
      out.print(compile(javac, files, args));
      args.clear();
    }
  }

  private static String compile(JavaCompiler javac, StandardJavaFileManager files,
      List<String> args) {
    List<String> options = new ArrayList<>();
    List<String> sources = new ArrayList<>();
    List<String> into = options;
    for (String arg : args) {
      if (arg.equals("\0sources")) {
        into = sources;
      } else {
        into.add(arg);
      }
    }
    StringWriter said = new StringWriter();
    boolean ok;
    try {
      ok = javac.getTask(said, files, null, options, null,
          files.getJavaFileObjectsFromStrings(sources)).call();
      files.flush();
    } catch (RuntimeException | IOException error) {
      said.write(error.toString() + "\n");
      ok = false;
    }
    String text = said.toString();
    if (!text.isEmpty() && !text.endsWith("\n")) {
      text += "\n";
    }
    return text + "\0exit " + (ok ? 0 : 1) + "\n";
  }
}
