package org.her2status.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import ca.uhn.fhir.rest.server.interceptor.auth.AuthorizationInterceptor;
import ca.uhn.fhir.rest.server.interceptor.auth.IAuthRule;
import ca.uhn.fhir.rest.server.interceptor.auth.IAuthRuleBuilder;
import ca.uhn.fhir.rest.server.interceptor.auth.IAuthRuleBuilderAppliesTo;
import ca.uhn.fhir.rest.server.interceptor.auth.IAuthRuleBuilderOperationNamed;
import ca.uhn.fhir.rest.server.interceptor.auth.RuleBuilder;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.io.IOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/**
 * Bearer tokens for the test server: the FHIR server as a SMART resource server.
 *
 * <p>Enabled only when the launcher sets the system properties {@code her2.auth.issuer},
 * {@code her2.auth.jwksUrl} and {@code her2.auth.audience} (see {@link #registerIfConfigured}).
 * Access tokens are JWTs signed with ES384, RS384 or RS256 by a key of the issuer's JWKS
 * (cached; an unknown {@code kid} refetches the set, rate-limited), with the expected
 * {@code iss} and {@code aud}, not expired. SMART scopes become HAPI allow rules:
 * {@code system/Type.cruds} (v2, any subset in that order) and {@code system/Type.read|write|*}
 * (v1); {@code user/} scopes are treated as {@code system/}; {@code patient/} scopes grant
 * nothing here (the service never uses them towards the FHIR server). Subscriptions are
 * resources like any other ({@code system/Subscription.cu}); Bulk Data {@code $export} needs
 * read scopes for every exported type (see {@link #bulkExport}). Everything else is
 * denied (403). {@code /metadata} and {@code /.well-known/smart-configuration} are open.
 *
 * <p>No token, or an invalid one: 401 with {@code WWW-Authenticate: Bearer} set here (HAPI's
 * own helper writes {@code Basic}). No message ever quotes the token.
 *
 * <p>Optional properties (the tests shorten them; defaults are a production-like server's):
 * {@code her2.auth.tokenUrl} (announced in the SMART configuration),
 * {@code her2.auth.jwksTtlMillis} (300000), {@code her2.auth.jwksRefetchMillis} (30000, the
 * shortest interval between two fetches of the key set), {@code her2.auth.clockSkewSeconds} (60).
 */
public final class BearerTokenAuthorization extends AuthorizationInterceptor {

  private static final Pattern SCOPE = Pattern.compile(
      "(system|user|patient)/(\\*|[A-Z][A-Za-z]+)\\.(read|write|\\*|c?r?u?d?s?)");
  private static final String REALM = "Bearer realm=\"her2-status-test-fhir\"";

  private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
  private final FhirContext fhirContext;

  private BearerTokenAuthorization(FhirContext fhirContext,
      String issuer, URL jwksUrl, String audience, long ttlMillis, long refetchMillis, int skewSeconds) {
    this.fhirContext = fhirContext;
    JWKSource<SecurityContext> keys = JWKSourceBuilder.create(jwksUrl)
        .cache(ttlMillis, 15_000)
        .rateLimited(refetchMillis)
        .retrying(false)
        .refreshAheadCache(false)
        .build();
    processor.setJWSKeySelector(new JWSVerificationKeySelector<>(
        Set.of(JWSAlgorithm.ES384, JWSAlgorithm.RS384, JWSAlgorithm.RS256), keys));
    DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(
        Set.of(audience),
        new JWTClaimsSet.Builder().issuer(issuer).build(),
        Set.of("exp", "iat", "iss", "aud"),
        null);
    claims.setMaxClockSkew(skewSeconds);
    processor.setJWTClaimsSetVerifier(claims);
  }

  /**
   * Registers token checking on {@code server} when the {@code her2.auth.*} properties are set.
   *
   * @param server the FHIR servlet
   * @throws IOException when the JWKS URL is malformed
   */
  public static void registerIfConfigured(RestfulServer server) throws IOException {
    String issuer = System.getProperty("her2.auth.issuer");
    String jwksUrl = System.getProperty("her2.auth.jwksUrl");
    String audience = System.getProperty("her2.auth.audience");
    if (issuer == null || jwksUrl == null || audience == null) {
      return;
    }
    server.registerInterceptor(new BearerTokenAuthorization(
        server.getFhirContext(),
        issuer,
        new URL(jwksUrl),
        audience,
        Long.getLong("her2.auth.jwksTtlMillis", 300_000L),
        Long.getLong("her2.auth.jwksRefetchMillis", 30_000L),
        Integer.getInteger("her2.auth.clockSkewSeconds", 60)));
    server.registerInterceptor(new SmartConfiguration(System.getProperty("her2.auth.tokenUrl")));
  }

  @Override
  public List<IAuthRule> buildRuleList(RequestDetails request) {
    if (request.getRestOperationType() == RestOperationTypeEnum.METADATA) {
      return new RuleBuilder().allow().metadata().build();
    }
    String header = request.getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw unauthorized("A bearer token is required.", REALM);
    }
    JWTClaimsSet claims;
    try {
      claims = processor.process(header.substring(7).trim(), null);
    } catch (ParseException | BadJOSEException | JOSEException e) {
      // The reason is a class name only: messages may quote claims.
      throw unauthorized(
          "The bearer token is not valid (" + e.getClass().getSimpleName() + ").",
          REALM + ", error=\"invalid_token\"");
    }
    Object scope = claims.getClaim("scope");
    return rules(scope instanceof String ? (String) scope : "");
  }

  private static AuthenticationException unauthorized(String message, String challenge) {
    AuthenticationException error = new AuthenticationException(message);
    error.addResponseHeader("WWW-Authenticate", challenge);
    return error;
  }

  /**
   * Allow rules for the SMART scopes of a token, then deny everything else.
   *
   * <p>Every rule is started with a named {@code allow(name)}: HAPI 6.6.1's unnamed
   * {@code allow()} returns one cached builder whose {@code create()} and {@code write()}
   * share a field, so a second rule would silently replace the first.
   */
  List<IAuthRule> rules(String scopes) {
    IAuthRuleBuilder rules = new RuleBuilder();
    boolean any = false;
    // The types a scope lets read and search (v2 .rs, v1 .read or *): what Bulk export may export.
    Set<String> exportable = new TreeSet<>();
    for (String scope : scopes.trim().split("\\s+")) {
      Matcher m = SCOPE.matcher(scope);
      if (!m.matches() || m.group(1).equals("patient") || m.group(3).isEmpty()) {
        continue;
      }
      String type = m.group(2);
      if (!type.equals("*") && !fhirContext.getResourceTypes().contains(type)) {
        continue;
      }
      String perms = switch (m.group(3)) {
        case "read" -> "rs";
        case "write" -> "cud";
        case "*" -> "cruds";
        default -> m.group(3);
      };
      if (perms.contains("r") && perms.contains("s")) {
        exportable.add(type);
      }
      if (perms.contains("r") || perms.contains("s")) {
        on(rules.allow(scope).read(), type).withAnyId().andThen();
        // $validate changes nothing: whoever may read a type may validate it.
        IAuthRuleBuilderOperationNamed validate = rules.allow(scope).operation().named("$validate");
        (type.equals("*")
            ? validate.onAnyType()
            : validate.onType(fhirContext.getResourceDefinition(type).getImplementingClass()))
            .andAllowAllResponses().andThen();
      }
      if (perms.contains("c")) {
        on(rules.allow(scope).create(), type).withAnyId().andThen();
        on(rules.allow(scope).createConditional(), type).andThen();
      }
      if (perms.contains("u")) {
        on(rules.allow(scope).write(), type).withAnyId().andThen();
        on(rules.allow(scope).updateConditional(), type).andThen();
      }
      if (perms.contains("d")) {
        on(rules.allow(scope).delete(), type).withAnyId().andThen();
        on(rules.allow(scope).deleteConditional(), type).andThen();
      }
      any = true;
    }
    if (!exportable.isEmpty()) {
      bulkExport(rules, exportable);
    }
    if (any) {
      // Each entry of a transaction must pass the rules above on its own.
      rules.allow("transaction").transaction().withAnyOperation().andApplyNormalRules().andThen();
    }
    return rules.allow("metadata").metadata().andThen().denyAll("no scope grants this").build();
  }

  /**
   * Bulk Data {@code $export} for a client that may read and search {@code types}.
   *
   * <p>SMART Backend Services / Bulk Data: {@code system/*.rs} (or {@code .read}) exports any
   * type; per-type scopes export only those types, and the kick-off must name them all in
   * {@code _type} (HAPI checks each requested type at {@code STORAGE_INITIATE_BULK_EXPORT};
   * a kick-off without {@code _type} would export every type, so only {@code *} allows it).
   * The deny rule right after matters: HAPI also runs the operation rules at that pointcut
   * (as {@code EXTENDED_OPERATION_SERVER}), where the {@code $export} allow below would
   * otherwise let through what the bulk rule did not grant.
   *
   * <p>Kick-off on the server, {@code Patient} and {@code Group/[id]}; polling the status URL
   * ({@code $export-poll-status}, also its DELETE, the cancel); downloading the files
   * ({@code GET Binary/[id]}: the export writes one Binary per file). The Binary read rule
   * does not look inside a Binary: any export-capable client may read any Binary, another
   * export's file too (acceptable for the test server; a production server must tie the files
   * to the client that asked for the export).
   */
  private void bulkExport(IAuthRuleBuilder rules, Set<String> types) {
    var export = rules.allow("bulk export of readable types").bulkExport().any();
    if (!types.contains("*")) {
      export.withResourceTypes(List.copyOf(types));
    }
    export.andThen();
    rules.deny("bulk export of a type no scope lets read").bulkExport().any().andThen();
    rules.allow("$export on the server").operation().named("$export").onServer()
        .andAllowAllResponses().andThen();
    rules.allow("$export on Patient").operation().named("$export")
        .onType(fhirContext.getResourceDefinition("Patient").getImplementingClass())
        .andAllowAllResponses().andThen();
    rules.allow("$export on a Group").operation().named("$export")
        .onInstancesOfType(fhirContext.getResourceDefinition("Group").getImplementingClass())
        .andAllowAllResponses().andThen();
    rules.allow("$export-poll-status").operation().named("$export-poll-status").onServer()
        .andAllowAllResponses().andThen();
    rules.allow("bulk export files").read().resourcesOfType("Binary").withAnyId().andThen();
  }

  private static <T> T on(IAuthRuleBuilderAppliesTo<T> rule, String type) {
    return type.equals("*") ? rule.allResources() : rule.resourcesOfType(type);
  }

  /** Serves {@code [base]/.well-known/smart-configuration} (token endpoint discovery). */
  @Interceptor
  public static final class SmartConfiguration {
    private final String tokenUrl;

    SmartConfiguration(String tokenUrl) {
      this.tokenUrl = tokenUrl;
    }

    /** Answers the discovery document itself; every other request goes on. */
    @Hook(Pointcut.SERVER_INCOMING_REQUEST_PRE_PROCESSED)
    public boolean serve(HttpServletRequest request, HttpServletResponse response) throws IOException {
      if (tokenUrl == null || !"/.well-known/smart-configuration".equals(request.getPathInfo())) {
        return true;
      }
      String body = "{\"token_endpoint\": \"" + tokenUrl + "\","
          + " \"token_endpoint_auth_methods_supported\": [\"private_key_jwt\"],"
          + " \"token_endpoint_auth_signing_alg_values_supported\": [\"ES384\", \"RS384\"],"
          + " \"grant_types_supported\": [\"client_credentials\"],"
          + " \"capabilities\": [\"client-confidential-asymmetric\", \"permission-v1\", \"permission-v2\"]}";
      response.setStatus(200);
      response.setContentType("application/json");
      response.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
      return false;
    }
  }
}
