package org.her2status.hl7;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.hl7.fhir.convertors.factory.VersionConvertorFactory_40_50;
import org.hl7.fhir.r4.formats.IParser.OutputStyle;
import org.hl7.fhir.r4.formats.JsonParser;
import org.hl7.fhir.r4.formats.XmlParser;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r5.elementmodel.Manager.FhirFormat;
import org.hl7.fhir.r5.model.StructureDefinition;
import org.hl7.fhir.utilities.http.ManagedWebAccess;
import org.hl7.fhir.utilities.npm.FilesystemPackageCacheManager;
import org.hl7.fhir.utilities.validation.ValidationMessage;
import org.hl7.fhir.validation.ValidationEngine;
import org.hl7.fhir.validation.ValidatorUtils;
import org.hl7.fhir.exceptions.FHIRException;
import org.hl7.fhir.r5.conformance.profile.ProfileUtilities;
import org.hl7.fhir.r5.elementmodel.Element;
import org.hl7.fhir.r5.elementmodel.Manager;
import org.hl7.fhir.r5.model.CanonicalResource;
import org.hl7.fhir.r5.model.CanonicalType;
import org.hl7.fhir.r5.context.IWorkerContext;
import org.hl7.fhir.r5.utils.validation.IResourceValidator;
import org.hl7.fhir.r5.utils.validation.IValidatorResourceFetcher;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.util.Locale;
import java.util.Set;

/**
 * The official HL7 validator engine, offline, for the her2-status tests.
 *
 * <p>{@code install TGZ...} puts hl7.fhir.r4.core#4.0.1 (built from the R4 definitions HAPI
 * publishes, since the package is not on npm) and the given npm packages into the package cache
 * of {@code -Duser.home}. {@code run IG REPORT SNAPSHOT_DIR [FILE[|PROFILE]]...} loads the guide
 * (a folder or an npm .tgz), validates each FILE (against PROFILE when given) and writes every
 * message to REPORT as JSON; each StructureDefinition FILE also gets its snapshot written to
 * SNAPSHOT_DIR (R4 JSON). Network access is prohibited: no terminology or package server.
 */
public final class Hl7Validator {
  private static final String CORE = "hl7.fhir.r4.core";
  private static final String R4 = "4.0.1";
  private static final String[] CORE_BUNDLES = {
    "org/hl7/fhir/r4/model/profile/profiles-types.xml",
    "org/hl7/fhir/r4/model/profile/profiles-resources.xml",
    "org/hl7/fhir/r4/model/profile/profiles-others.xml",
    "org/hl7/fhir/r4/model/extension/extension-definitions.xml",
    "org/hl7/fhir/r4/model/valueset/valuesets.xml",
    "org/hl7/fhir/r4/model/valueset/v3-codesystems.xml",
    "org/hl7/fhir/r4/model/valueset/v2-tables.xml",
    "org/hl7/fhir/r4/model/sp/search-parameters.json",
  };
  /** npm packages the engine loads beside the core (THO: the external code systems' stubs). */
  private static final String[][] LOADED = {{"hl7.terminology.r4", "7.0.1"}};

  private Hl7Validator() {}

  public static void main(String[] args) throws Exception {
    ManagedWebAccess.setAccessPolicy(ManagedWebAccess.WebAccessPolicy.PROHIBITED);
    if (args.length >= 1 && args[0].equals("install")) {
      install(List.of(args).subList(1, args.length));
    } else if (args.length >= 4 && args[0].equals("run")) {
      run(args[1], Path.of(args[2]), Path.of(args[3]), List.of(args).subList(4, args.length));
    } else {
      System.err.println("usage: install TGZ... | run IG REPORT SNAPSHOT_DIR [FILE[|PROFILE]]...");
      System.exit(2);
    }
  }

  private static void install(List<String> tgzs) throws Exception {
    FilesystemPackageCacheManager pcm = new FilesystemPackageCacheManager.Builder().build();
    if (!pcm.packageInstalled(CORE, R4)) {
      pcm.addPackageToCache(CORE, R4, new ByteArrayInputStream(corePackage()), "local");
    }
    for (String tgz : tgzs) {
      // npm pack names files <name>-<version>.tgz; the package.json inside is authoritative.
      org.hl7.fhir.utilities.npm.NpmPackage npm;
      try (InputStream in = Files.newInputStream(Path.of(tgz))) {
        npm = org.hl7.fhir.utilities.npm.NpmPackage.fromPackage(in);
      }
      if (!pcm.packageInstalled(npm.name(), npm.version())) {
        try (InputStream in = Files.newInputStream(Path.of(tgz))) {
          pcm.addPackageToCache(npm.name(), npm.version(), in, tgz);
        }
      }
    }
  }

  /** hl7.fhir.r4.core#4.0.1 as an npm .tgz: one R4 JSON file per resource of the bundles. */
  private static byte[] corePackage() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    JsonParser json = new JsonParser();
    int count = 0;
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(out))) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      String manifest = "{\"name\": \"" + CORE + "\", \"version\": \"" + R4 + "\", \"type\": \"Core\","
          + " \"fhirVersions\": [\"" + R4 + "\"], \"canonical\": \"http://hl7.org/fhir\","
          + " \"url\": \"http://hl7.org/fhir/R4\", \"tools-version\": 3, \"dependencies\": {}}";
      add(tar, "package/package.json", manifest.getBytes(StandardCharsets.UTF_8));
      for (String name : CORE_BUNDLES) {
        Bundle bundle;
        try (InputStream in = Hl7Validator.class.getClassLoader().getResourceAsStream(name)) {
          bundle = (Bundle) (name.endsWith(".json") ? json : new XmlParser()).parse(in);
        }
        for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
          Resource r = entry.getResource();
          if (r == null || !r.hasId()) {
            continue;
          }
          String file = "package/" + r.fhirType() + "-" + r.getIdPart() + ".json";
          add(tar, file, json.composeBytes(r));
          count++;
        }
      }
    }
    System.err.println("built " + CORE + "#" + R4 + ": " + count + " resources");
    return out.toByteArray();
  }

  private static void add(TarArchiveOutputStream tar, String name, byte[] data) throws Exception {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setSize(data.length);
    tar.putArchiveEntry(entry);
    tar.write(data);
    tar.closeArchiveEntry();
  }

  private static void run(String ig, Path report, Path snapshotDir, List<String> files)
      throws Exception {
    ValidationEngine engine = new ValidationEngine.ValidationEngineBuilder()
        .withVersion(R4)
        .withNoTerminologyServer()
        .withCanRunWithoutTerminologyServer(true)
        .fromSource(CORE + "#" + R4);
    for (String[] p : LOADED) {
      // Not through IgLoader: it always loads dependencies, and THO's
      // (hl7.fhir.uv.extensions.r4#5.2.0) are not on npm.
      engine.getContext().loadFromPackage(
          engine.getPcm().loadPackage(p[0], p[1]), ValidatorUtils.loaderForVersion(R4), false);
    }
    engine.getIgLoader().loadIg(engine.getIgs(), engine.getBinaries(), ig, false);
    engine.prepare();
    Files.createDirectories(snapshotDir);
    Map<String, List<Map<String, Object>>> results = new LinkedHashMap<>();
    for (String arg : files) {
      String[] parts = arg.split("\\|", -1);
      Path file = Path.of(parts[0]);
      List<String> profiles =
          parts.length > 1 && !parts[1].isEmpty() ? List.of(parts[1]) : List.of();
      // The resources the FHIR server holds when this file is written: references to them
      // resolve, as they would there; any other reference is reported unresolved.
      engine.setFetcher(new ServerFetcher(engine, parts.length > 2 ? parts[2] : ""));
      List<ValidationMessage> messages = new ArrayList<>();
      engine.validate(Files.readAllBytes(file), FhirFormat.JSON, profiles, messages);
      List<Map<String, Object>> issues = new ArrayList<>();
      for (ValidationMessage m : messages) {
        Map<String, Object> issue = new LinkedHashMap<>();
        issue.put("severity", m.getLevel().toCode());
        issue.put("messageId", m.getMessageId() == null ? "" : m.getMessageId());
        issue.put("location", m.getLocation());
        issue.put("line", m.getLine());
        issue.put("message", m.getMessage());
        issues.add(issue);
      }
      results.put(parts[0], issues);
      if (file.getFileName().toString().startsWith("StructureDefinition-")) {
        Files.write(snapshotDir.resolve(file.getFileName()), snapshot(engine, file));
      }
    }
    Gson gson = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();
    Files.writeString(report, gson.toJson(results));
  }

  /** The file's StructureDefinition with a snapshot generated from its differential (R4 JSON). */
  private static byte[] snapshot(ValidationEngine engine, Path file) throws Exception {
    StructureDefinition sd = (StructureDefinition) engine.loadCanonicalResource(file.toString(), R4);
    sd.setSnapshot(null); // regenerate: a committed snapshot must not feed its own check
    StructureDefinition base =
        engine.getContext().fetchResource(StructureDefinition.class, sd.getBaseDefinition());
    new ProfileUtilities(engine.getContext(), null, null)
        .setAutoFixSliceNames(true)
        .generateSnapshot(base, sd, sd.getUrl(), null, sd.getName());
    org.hl7.fhir.r4.model.Resource r4 = VersionConvertorFactory_40_50.convertResource(sd);
    return new JsonParser().setOutputStyle(OutputStyle.PRETTY).composeBytes(r4);
  }

  /** Resolves Type/id references (any _history version) to the resources of some JSON files. */
  private static final class ServerFetcher implements IValidatorResourceFetcher {
    private final ValidationEngine engine;
    private final Map<String, byte[]> resources = new LinkedHashMap<>();

    ServerFetcher(ValidationEngine engine, String files) throws Exception {
      this.engine = engine;
      for (String name : files.split(",")) {
        if (name.isEmpty()) {
          continue;
        }
        JsonObject json = com.google.gson.JsonParser.parseString(Files.readString(Path.of(name))).getAsJsonObject();
        List<JsonObject> found = new ArrayList<>();
        collect(json, found);
        for (JsonObject r : found) {
          if (r.has("id")) {
            String key = r.get("resourceType").getAsString() + "/" + r.get("id").getAsString();
            resources.put(key, r.toString().getBytes(StandardCharsets.UTF_8));
          }
        }
        // What these resources reference exists on their server too (a request's Observation
        // names its Patient without carrying it): a minimal stub stands for it.
        java.util.regex.Matcher m = java.util.regex.Pattern
            .compile("\"reference\"\\s*:\\s*\"(?:https?://[^\"]*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\\-.]{1,64})(/_history/[^\"]*)?\"")
            .matcher(json.toString());
        while (m.find()) {
          String key = m.group(1) + "/" + m.group(2);
          String stub = "{\"resourceType\":\"" + m.group(1) + "\",\"id\":\"" + m.group(2) + "\"}";
          resources.putIfAbsent(key, stub.getBytes(StandardCharsets.UTF_8));
        }
      }
    }

    /** The resource, or the resources of a Bundle or Parameters (recursively). */
    private static void collect(JsonObject json, List<JsonObject> found) {
      String type = json.get("resourceType").getAsString();
      String key = "Bundle".equals(type) ? "entry" : "Parameters".equals(type) ? "parameter" : null;
      if (key == null) {
        found.add(json);
      } else if (json.has(key)) {
        for (JsonElement item : json.getAsJsonArray(key)) {
          if (item.getAsJsonObject().has("resource")) {
            collect(item.getAsJsonObject().getAsJsonObject("resource"), found);
          }
        }
      }
    }

    @Override
    public Element fetch(IResourceValidator validator, Object appContext, String url)
        throws FHIRException, IOException {
      String plain = url.replaceFirst("/_history/[^/]+$", "");
      String[] segments = plain.split("/");
      if (segments.length < 2) {
        return null;
      }
      byte[] data = resources.get(segments[segments.length - 2] + "/" + segments[segments.length - 1]);
      return data == null
          ? null
          : Manager.parseSingle(engine.getContext(), new ByteArrayInputStream(data), FhirFormat.JSON);
    }

    @Override
    public boolean resolveURL(IResourceValidator validator, Object appContext, String path,
        String url, IWorkerContext.VersionResolutionRules rules, String type, boolean canonical,
        List<CanonicalType> targets) {
      return false;
    }

    @Override
    public byte[] fetchRaw(IResourceValidator validator, String url) throws IOException {
      throw new IOException("offline: " + url);
    }

    @Override
    public IValidatorResourceFetcher setLocale(Locale locale) {
      return this;
    }

    @Override
    public CanonicalResource fetchCanonicalResource(IResourceValidator validator,
        Object appContext, String url) {
      return null;
    }

    @Override
    public boolean fetchesCanonicalResource(IResourceValidator validator, String url) {
      return false;
    }

    @Override
    public Set<ResourceVersionInformation> fetchCanonicalResourceVersions(
        IResourceValidator validator, Object appContext, String url) {
      return Set.of();
    }
  }
}
